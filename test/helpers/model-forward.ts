// Running a decoder on token ids and reading its logits back, for tests of the model at any size
// (tiny configs against a float64 reference in test/unit, full-size random models in test/slow).
import { tf } from '../../src/engine/tf';
import type { Decoder } from '../../src/engine/model/decoder';
import type { ModelConfig } from '../../src/engine/model/config';
import { createDecoder } from '../../src/engine/model/load';
import { disposeWeights } from '../../src/engine/model/weights';
import { generate } from '../../src/engine/generate/generate';
import { mulberry32 } from '../../src/engine/rng';
import { placeholderTokenizer, randomWeights } from './random-model';

/** True when every value is finite (no NaN, no ±Infinity). */
export function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/** `n` token ids below `vocab`, the same for the same seed. */
export function randomIds(n: number, vocab: number, seed: number): number[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(rand() * vocab));
}

/** Logits for `ids` [B, T] under `mask`, read back and with every intermediate released. */
export async function engineLogits(
  model: Decoder,
  ids: number[][],
  mask: number[][],
  lastPositions?: number,
): Promise<{ logits: Float32Array; shape: number[]; hiddenFinite: boolean }> {
  const [b, t] = [ids.length, ids[0]!.length];
  const out = tf.tidy(() => {
    const { hidden } = model.forward(tf.tensor2d(ids, [b, t], 'int32'), {
      attentionMask: tf.tensor2d(mask, [b, t], 'int32'),
    });
    const k = lastPositions ?? t;
    const tail = k === t ? hidden : hidden.slice([0, t - k, 0], [b, k, model.config.hiddenSize]);
    return { logits: model.logits(tail), finite: tf.isFinite(hidden).all() };
  });
  const logits = (await out.logits.data()) as Float32Array;
  const hiddenFinite = (await out.finite.data())[0] === 1;
  const shape = out.logits.shape;
  out.logits.dispose();
  out.finite.dispose();
  return { logits, shape, hiddenFinite };
}

/** Logits of a random-weight model (weights as the numerics tests draw them) on `ids` under `mask`. */
export async function randomModelLogits(config: ModelConfig, seed: number, ids: number[][], mask: number[][]): Promise<Float32Array> {
  const weights = randomWeights(config, seed, { std: 0.3, normJitter: 0.3 });
  const model = createDecoder(config, weights);
  try {
    return (await engineLogits(model, ids, mask)).logits;
  } finally {
    model.dispose();
    disposeWeights(weights);
  }
}

/**
 * A random-weight model's sampled (seeded) continuation of `prompt`, with the KV cache and by
 * recomputing the whole sequence each step; no EOS, so both run `maxNewTokens` steps.
 */
export async function cachedAndFullGeneration(config: ModelConfig, seed: number, prompt: number[], maxNewTokens: number): Promise<{ cached: number[]; full: number[] }> {
  const weights = randomWeights(config, seed, { std: 0.3, normJitter: 0.3 });
  const model = createDecoder(config, weights);
  const tok = { ...placeholderTokenizer(config.vocabSize), decode: () => '' };
  const opts = { maxNewTokens, temperature: 0.8, seed: 3, eosTokenIds: [] };
  try {
    const cached = await generate(model, tok, prompt, { ...opts, useCache: true });
    const full = await generate(model, tok, prompt, { ...opts, useCache: false });
    return { cached: cached.ids, full: full.ids };
  } finally {
    model.dispose();
    disposeWeights(weights);
  }
}
