// The adapter a run starts from: a fresh one from the LoRA flags, or --init-adapter's, whose
// shape (rank, alpha, targets, rsLoRA) is fixed by its files; flags that contradict it are refused
// rather than silently ignored. Dropout is not part of the shape, so --dropout still applies.
import type { LoraConfig } from '../../engine/lora/lora';
import type { Session } from '../../engine/session';
import { UsageError } from '../shared/errors';
import type { CliIO } from '../shared/io';
import { printable } from '../shared/printable';
import { readAdapterDir } from '../shared/model';
import { resolveTargets } from '../shared/targets';
import { LORA_DEFAULTS, type LoraArgs, type TrainArgs } from './args';
import { sha256 } from './identity';

export interface StartingAdapter {
  config: LoraConfig;
  /** Hash of --init-adapter's weights, for the resume check. */
  initSha256?: string;
}

/** A new adapter's settings from the LoRA flags and their defaults. */
export function newLoraConfig(l: LoraArgs, command = 'train'): LoraConfig {
  return {
    r: l.r ?? LORA_DEFAULTS.r,
    alpha: l.alpha ?? LORA_DEFAULTS.alpha,
    dropout: l.dropout ?? LORA_DEFAULTS.dropout,
    useRslora: l.rslora ?? LORA_DEFAULTS.rslora,
    targetModules: resolveTargets(l.targets ?? LORA_DEFAULTS.targets, command),
  };
}

export async function setUpAdapter(session: Session, a: TrainArgs, io: CliIO): Promise<StartingAdapter> {
  const l = a.lora;
  if (!a.initAdapter) {
    const config = newLoraConfig(l);
    session.newAdapter(config, a.loop.seed);
    return { config };
  }
  const files = await readAdapterDir(a.initAdapter);
  const adapter = await session.importAdapter(files);
  const c = adapter.config;
  const clash = (flag: string, given: unknown, has: unknown) => {
    if (given !== undefined && JSON.stringify(given) !== JSON.stringify(has)) {
      throw new UsageError(`${flag} ${JSON.stringify(given)} contradicts --init-adapter, which has ${JSON.stringify(has)}; drop ${flag}`, 'train');
    }
  };
  clash('--rank', l.r, c.r);
  clash('--alpha', l.alpha, c.alpha);
  if (l.rslora && !c.useRslora) throw new UsageError('--rslora contradicts --init-adapter, which does not use rsLoRA; drop --rslora', 'train');
  if (l.targets) clash('--targets', resolveTargets(l.targets, 'train').sort(), [...c.targetModules].sort());
  // The forward pass reads the dropout from the adapter's config on every step.
  if (l.dropout !== undefined) c.dropout = l.dropout;
  io.stderr(`init adapter: ${a.initAdapter} (rank ${c.r}, alpha ${c.alpha}, ${printable(c.targetModules.join(','))})\n`);
  return { config: c, initSha256: sha256(files.weights) };
}
