// What a checkpoint may be resumed with: the same model, data bytes, data preparation, LoRA shape
// and training options. Anything else would silently train a different run than the one
// checkpointed, so a mismatch is an error listing each difference. Only when checkpoints are
// written and how often to evaluate may change, since neither affects the losses.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { TrainOptions } from '../../engine/train/trainer';

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
