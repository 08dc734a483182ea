// What a checkpoint may be resumed with: the same model, data bytes, data preparation, LoRA shape
// and training options. Anything else would silently train a different run than the one
// checkpointed, so a mismatch is an error listing each difference. Only when checkpoints are
// written and how often to evaluate may change, since neither affects the losses.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { PromptTemplate } from '../../engine/data';
import type { Session } from '../../engine/session';
import type { TrainOptions } from '../../engine/train/trainer';
import type { StartingAdapter } from './adapter';
import type { TrainArgs } from './args';
import type { CliIO } from '../shared/io';
import { cacheDir, modelWeightsSha256 } from '../shared/weights-hash';

export async function sha256OfFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const FREE_OPTIONS: ReadonlyArray<keyof TrainOptions> = ['checkpointEvery', 'evalEvery'];

/** The options that decide the losses, as plain JSON (undefined fields dropped, like a saved copy). */
export function lossOptions(o: TrainOptions): Record<string, unknown> {
  const copy: Record<string, unknown> = JSON.parse(JSON.stringify(o));
  for (const k of FREE_OPTIONS) delete copy[k];
  return copy;
}

/** "lora.r: 8 (checkpoint) vs 4 (now)" for every leaf that differs. */
export function differences(saved: unknown, now: unknown, path = ''): string[] {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isObj(saved) && isObj(now)) {
    const keys = [...new Set([...Object.keys(saved), ...Object.keys(now)])];
    return keys.flatMap((k) => differences(saved[k], now[k], path ? `${path}.${k}` : k));
  }
  const a = JSON.stringify(saved);
  const b = JSON.stringify(now);
  return a === b ? [] : [`${path}: ${a ?? 'unset'} in the checkpoint, ${b ?? 'unset'} now`];
}

/** The identity of a run, as stored in its checkpoint and compared on --resume. */
export async function runIdentity(
  session: Session,
  a: TrainArgs,
  template: PromptTemplate,
  start: StartingAdapter,
  options: TrainOptions,
  io: CliIO,
  precision: string,
): Promise<Record<string, unknown>> {
  const d = a.data;
  // The weights themselves: a fine-tune and its base share config and parameter count.
  session.weightsSha256 = await modelWeightsSha256(a.model, io.env, (bytes) =>
    io.stderr(`hashing the model weights (${(bytes / 1e6).toFixed(0)} MB, once: remembered in ${cacheDir(io.env)})\n`),
  );
  return {
    // Not the folder's path: a moved model folder is still the same model.
    model: { parameters: session.summary().parameters, config_sha256: sha256(JSON.stringify(session.files.config)), weights_sha256: session.weightsSha256 },
    data: await sha256OfFile(d.path),
    prepare: {
      format: d.format ?? 'auto',
      columns: d.columns ?? null,
      template,
      train_on: d.trainOn,
      max_length: d.maxLength,
      val_fraction: a.valFraction ?? 0,
    },
    // Sorted: the order of --targets does not change the adapter.
    lora: { ...start.config, targetModules: [...start.config.targetModules].sort() },
    init_adapter_sha256: start.initSha256 ?? null,
    options: lossOptions(options),
    // Resuming in another precision is allowed, with a note (resumeDifferences): the losses move by
    // ~1e-3 relative, and refusing would strand a run begun on a GPU with f16 on one without.
    precision,
  };
}

/**
 * differences() for --resume, with the model's weights said plainly. A checkpoint written before
 * weights were hashed has none to compare: it still resumes, with a note saying what was not checked.
 */
export function resumeDifferences(saved: Record<string, unknown>, now: Record<string, unknown>, note: (line: string) => void): string[] {
  const savedModel = saved.model as Record<string, unknown> | undefined;
  // Checkpoints from before the precision setting were all fp32.
  const [was, is] = [saved.precision ?? 'fp32', now.precision ?? 'fp32'];
  if (was !== is) {
    note(`note: this run was checkpointed in precision ${String(was)} and resumes in ${String(is)}: the frozen weights are rounded differently from here on (losses move by ~1e-3 relative)\n`);
  }
  let current: Record<string, unknown> = { ...now, precision: saved.precision };
  if (savedModel && savedModel.weights_sha256 === undefined) {
    note(
      "note: this checkpoint predates WebLoRA's record of the model's weights (SHA-256), so only the model's config and size are checked: make sure --model is the model the run started with\n",
    );
    const { weights_sha256: _weights, ...model } = now.model as Record<string, unknown>;
    current = { ...current, model };
  }
  const weights = (x: Record<string, unknown>) => (x.model as Record<string, unknown> | undefined)?.weights_sha256;
  return differences(saved, current).map((d) =>
    d.startsWith('model.weights_sha256:')
      ? `the model's weights differ: SHA-256 ${String(weights(saved))} in the checkpoint, ${String(weights(current))} now — the same config with other weights (a fine-tune and its base?)`
      : d,
  );
}
