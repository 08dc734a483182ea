// Mean masked loss over a set of examples: Σ token losses / Σ trained tokens, with the
// adapter as it is (or none, for the base model), never dropout.
import { tf } from '../tf';
import type { Decoder } from '../model/decoder';
import type { LoraAdapter } from '../lora/lora';
import { makeBatches, type BatchExample } from '../data/batches';
import { summedCrossEntropy } from './loss';
import { nextTurn } from '../next-turn';

export interface EvalOptions {
  batchSize: number;
  maxLength: number;
  padId: number;
  /** Aborting it stops the evaluation at the next batch (the promise rejects with an AbortError). */
  signal?: AbortSignal;
}

/**
 * Called before each batch with the batches done and their total; resolving to false stops the
 * evaluation there (a pause simply resolves later).
 */
export type BatchBoundary = (done: number, total: number) => Promise<boolean>;

export async function evaluate(
  model: Decoder,
  adapter: LoraAdapter | null,
  examples: readonly BatchExample[],
  o: EvalOptions,
): Promise<number> {
  // A turn of the event loop per batch: on cpu and wasm nothing else would yield, and Ctrl-C or
  // a worker's cancel message could only land after the whole evaluation.
  return (await evaluateUntil(model, adapter, examples, o, async () => {
    await nextTurn();
    o.signal?.throwIfAborted();
    return true;
  }))!;
}

/** `evaluate`, stopping early (null) when `boundary` says so. */
export async function evaluateUntil(
  model: Decoder,
  adapter: LoraAdapter | null,
  examples: readonly BatchExample[],
  o: EvalOptions,
  boundary: BatchBoundary,
): Promise<number | null> {
  let total = 0;
  let count = 0;
  const batches = makeBatches(examples, { batchSize: o.batchSize, maxLength: o.maxLength, padId: o.padId, shuffle: false });
  for (const [i, b] of batches.entries()) {
    if (!(await boundary(i, batches.length))) return null;
    if (b.trainedTokens === 0) continue;
    const sum = tf.tidy(() => {
      const shape: [number, number] = [b.batchSize, b.seqLen];
      const { hidden } = model.forward(tf.tensor2d(b.inputIds, shape, 'int32'), {
        attentionMask: tf.tensor2d(b.attentionMask, shape, 'int32'),
        adapter,
      });
      return summedCrossEntropy(model, hidden, b.targets);
    });
    total += (await sum.data())[0];
    sum.dispose();
    count += b.trainedTokens;
  }
  return count ? total / count : NaN;
}
