// Gemma 3's stock ops on the cpu backend against float64 references written here: GeGLU with
// gelu_pytorch_tanh (values and both gradients), and causal attention with a sliding window and
// a custom scale (padding, a KV cache, a window shorter than the sequence).
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { causalAttention, geglu } from '../../kernels';
import { mulberry32 } from '../../src/engine/rng';
import { maxRelativeError } from '../helpers/numerics';

function randArray(n: number, seed: number, scale = 1): Float64Array {
  const r = mulberry32(seed);
  return Float64Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('GeGLU (gelu_pytorch_tanh)', () => {
  const C = Math.sqrt(2 / Math.PI);
  const gelu = (g: number) => 0.5 * g * (1 + Math.tanh(C * (g + 0.044715 * g ** 3)));

  it('values and gradients equal float64 (gradient by central differences of the float64 function)', async () => {
    const n = 257;
    // Wide range: the tails of tanh (|g| up to 8) and the region near 0.
    const g = randArray(n, 1, 8);
    const u = randArray(n, 2, 2);
    const dy = randArray(n, 3);
    const gt = tf.tensor1d(Float32Array.from(g));
    const ut = tf.tensor1d(Float32Array.from(u));
    const dyt = tf.tensor1d(Float32Array.from(dy));
    const y = geglu(gt, ut);
    const [dg, du] = tf.grads((a: tf.Tensor, b: tf.Tensor) => geglu(a, b))([gt, ut], dyt);
    // References from the float32-rounded inputs the op saw.
    const gf = Float32Array.from(g);
    const uf = Float32Array.from(u);
    const h = 1e-6;
    const refY = Array.from(gf, (x, i) => gelu(x) * uf[i]);
    const refDg = Array.from(gf, (x, i) => ((gelu(x + h) - gelu(x - h)) / (2 * h)) * uf[i] * Float32Array.from(dy)[i]);
    const refDu = Array.from(gf, (x, i) => gelu(x) * Float32Array.from(dy)[i]);
    expect(maxRelativeError(refY, await y.data())).toBeLessThan(1e-6);
    expect(maxRelativeError(refDg, await dg.data())).toBeLessThan(1e-5);
    expect(maxRelativeError(refDu, await du.data())).toBeLessThan(1e-6);
    tf.dispose([gt, ut, dyt, y, dg, du]);
  });
});

/**
 * Float64 attention: query t of batch row b at position past + t sees key j iff j ≤ past + t,
 * j > past + t − window and mask[b, j] = 1; a query that sees no key gets a uniform softmax over
 * all S keys (the −1e9 bias's result).
 */
function attentionRef(
  q: Float64Array, k: Float64Array, v: Float64Array, mask: number[],
  dims: { b: number; h: number; hk: number; t: number; s: number; d: number }, window: number, scale: number,
): Float64Array {
  const { b: B, h: H, hk: Hk, t: T, s: S, d: D } = dims;
  const past = S - T;
  const out = new Float64Array(B * T * H * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / Hk));
      for (let t = 0; t < T; t++) {
        const p = past + t;
        const visible = Array.from({ length: S }, (_, j) => j <= p && j > p - window && mask[b * S + j] === 1);
        const anyVisible = visible.some(Boolean);
        const scores = Array.from({ length: S }, (_, j) => {
          if (!anyVisible) return 0;
          if (!visible[j]) return -Infinity;
          let dot = 0;
          for (let c = 0; c < D; c++) dot += q[((b * H + h) * T + t) * D + c] * k[((b * Hk + g) * S + j) * D + c];
          return dot * scale;
        });
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, x) => a + x, 0);
        for (let c = 0; c < D; c++) {
          let acc = 0;
          for (let j = 0; j < S; j++) acc += (e[j] / z) * v[((b * Hk + g) * S + j) * D + c];
          out[((b * T + t) * H + h) * D + c] = acc;
        }
      }
    }
  return out;
}

describe('causal attention with a sliding window and a scale (stock)', () => {
  // [B, H, Hk, T, past, D, window, masks]
  it.each([
    [1, 2, 1, 9, 0, 8, 3, [[1, 1, 1, 1, 1, 1, 1, 1, 1]]],
    // Right padding longer than the window: the last rows see no key at all.
    [2, 4, 2, 8, 0, 4, 2, [[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0, 0]]],
    // Left padding and a KV cache longer than the window; one query (the decode step).
    [2, 2, 1, 1, 7, 8, 4, [[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1, 1]]],
    // A cache and several queries; window 1 (each query sees only itself).
    [1, 3, 3, 4, 3, 4, 1, [[0, 1, 1, 1, 1, 1, 1]]],
    // A window wider than the sequence equals no window.
    [1, 2, 2, 5, 0, 4, 64, [[1, 1, 1, 1, 0]]],
  ] as const)('B %i, H %i, Hk %i, T %i, past %i, D %i, window %i, masks %j', async (b, h, hk, t, past, d, window, masks) => {
    const s = t + past;
    const q = randArray(b * h * t * d, 11, 2);
    const k = randArray(b * hk * s * d, 12, 2);
    const v = randArray(b * hk * s * d, 13);
    const mask = masks.flat() as number[];
    const scale = 0.37;
    const ref = attentionRef(q, k, v, mask, { b, h, hk, t, s, d }, window, scale);
    const out = tf.tidy(() =>
      causalAttention(
        tf.tensor4d(Float32Array.from(q), [b, h, t, d]),
        tf.tensor4d(Float32Array.from(k), [b, hk, s, d]),
        tf.tensor4d(Float32Array.from(v), [b, hk, s, d]),
        tf.tensor2d(mask, [b, s], 'int32'),
        { window, scale },
      ),
    );
    expect(out.shape).toEqual([b, t, h * d]);
    expect(maxRelativeError(ref, await out.data())).toBeLessThan(1e-5);
    out.dispose();
  });

  it('defaults: no window and 1/√D', async () => {
    const [b, h, t, d] = [1, 2, 6, 4];
    const q = randArray(b * h * t * d, 21);
    const k = randArray(b * h * t * d, 22);
    const v = randArray(b * h * t * d, 23);
    const mask = [1, 1, 1, 1, 1, 1];
    const ref = attentionRef(q, k, v, mask, { b, h, hk: h, t, s: t, d }, Infinity, 1 / Math.sqrt(d));
    const shape = [b, h, t, d] as [number, number, number, number];
    const out = tf.tidy(() => causalAttention(tf.tensor4d(Float32Array.from(q), shape), tf.tensor4d(Float32Array.from(k), shape), tf.tensor4d(Float32Array.from(v), shape), tf.tensor2d(mask, [b, t], 'int32')));
    expect(maxRelativeError(ref, await out.data())).toBeLessThan(1e-5);
    out.dispose();
  });

  it('rejects a window that is not a positive integer', () => {
    const x = tf.zeros([1, 1, 2, 4]) as tf.Tensor4D;
    const mask = tf.ones([1, 2], 'int32') as tf.Tensor2D;
    expect(() => causalAttention(x, x, x, mask, { window: 0 })).toThrow(/window 0/);
    expect(() => causalAttention(x, x, x, mask, { window: 2.5 })).toThrow(/window 2.5/);
    tf.dispose([x, mask]);
  });
});
