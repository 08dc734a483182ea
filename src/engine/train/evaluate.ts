// Mean masked loss over a set of examples: Σ token losses / Σ trained tokens, with the
// adapter as it is (or none, for the base model), never dropout.
import { tf } from '../tf';
import type { LlamaModel } from '../model/llama';
import type { LoraAdapter } from '../lora/lora';
import { makeBatches, type BatchExample } from '../data/batches';
import { summedCrossEntropy } from './loss';

export interface EvalOptions {
  batchSize: number;
  maxLength: number;
  padId: number;
}

export async function evaluate(
  model: LlamaModel,
  adapter: LoraAdapter | null,
  examples: readonly BatchExample[],
  o: EvalOptions,
): Promise<number> {
  let total = 0;
  let count = 0;
  for (const b of makeBatches(examples, { batchSize: o.batchSize, maxLength: o.maxLength, padId: o.padId, shuffle: false })) {
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
