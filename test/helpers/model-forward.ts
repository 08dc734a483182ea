// Running a decoder on token ids and reading its logits back, for tests of the model at any size
// (tiny configs against a float64 reference in test/unit, full-size random models in test/slow).
import { tf } from '../../src/engine/tf';
import type { Decoder } from '../../src/engine/model/decoder';
import { mulberry32 } from '../../src/engine/rng';

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
