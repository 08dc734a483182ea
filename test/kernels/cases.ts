// Every fused kernel equals the stock TF.js composition it replaces — forward and gradients —
// over odd shapes, on whichever WebGPU the caller set up: Dawn on SwiftShader in Node
// (test/webgpu/kernels.test.ts) and Chromium's own WebGPU (test/chromium/kernels.test.ts).
// Browser-safe: no Node modules here.
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { withKernelMode, type KernelMode } from '../../kernels';
import { addRmsNorm, causalAttention, geglu, linear, linears, lmHeadCrossEntropy, ropeQkv, rmsNorm, swiglu } from '../../kernels';
import { ADD_RMS_NORM, ADD_RMS_NORM_GRAD, RMS_NORM, RMS_NORM_GRAD } from '../../kernels/rmsnorm';
import { SWIGLU, SWIGLU_GRAD } from '../../kernels/swiglu';
import { GEGLU, GEGLU_GRAD } from '../../kernels/geglu';
import { ROPE_QKV, ROPE_QKV_GRAD } from '../../kernels/rope';
import { LORA_GRAD_AB, LORA_GRAD_U2, LORA_LINEAR, LORA_LINEAR_DROPOUT, LORA_LINEAR_GROUP, LORA_MATMUL } from '../../kernels/lora-linear';
import { headGradProgram, LM_HEAD_CE, LM_HEAD_CE_GRAD, partialsProgram, partialsTileFits } from '../../kernels/cross-entropy';
import { ADAMW, SUM_SQUARES } from '../../kernels/adamw';
import { AdamW } from '../../src/engine/train/optimizer';
import { newVariable } from '../../src/engine/variables';
import { ATTENTION, ATTENTION_GRAD_KV, ATTENTION_GRAD_Q, ATTENTION_STATS } from '../../kernels/attention';
import { maxRelativeError } from '../helpers/numerics';
import { clearTuning, TILE_CANDIDATES, tileFor, tuneFrozenMatmuls } from '../../kernels';
import { groupedMatmul, loraDown, matmulWithTile, plain, transposed } from '../../kernels/matmul';
import { tileKey } from '../../kernels/matmul.wgsl';
import { setTile } from '../../kernels/tuning';
import { mulberry32 } from '../../src/engine/rng';
import { sampleOnDevice } from '../../kernels';
import { SAMPLE_TOKENS } from '../../kernels/sample';
import { sampleToken, type SamplingOptions } from '../../src/engine/generate/sampling';

const TOL = 1e-4;

function rand(shape: number[], seed: number, scale = 1): tf.Tensor {
  const r = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() * 2 - 1) * scale;
  return tf.tensor(v, shape);
}

interface Outcome {
  y: Float32Array;
  grads: Float32Array[];
  /** Names of the kernels that ran (forward and backward). */
  kernels: string[];
}

/** y = f(...xs) and the gradients of Σ y·dy w.r.t. every x, in one kernel mode. */
async function evaluate(mode: KernelMode, f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): Promise<Outcome> {
  let result: { y: tf.Tensor; grads: tf.Tensor[] } | undefined;
  const profile = await tf.profile(() => {
    result = withKernelMode(mode, () =>
      tf.tidy(() => {
        const g = tf.grads((...a: tf.Tensor[]) => f(...a));
        return { y: f(...xs), grads: g(xs, dy) };
      }),
    );
    return [result.y, ...result.grads];
  });
  const { y, grads } = result!;
  const out = {
    y: (await y.data()) as Float32Array,
    grads: await Promise.all(grads.map(async (t) => (await t.data()) as Float32Array)),
    kernels: profile.kernelNames,
  };
  tf.dispose([y, ...grads]);
  return out;
}

/** Fused equals stock (forward and every gradient) within TOL, relative to the stock magnitude. */
async function expectSame(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], kernels: string[], seed = 99): Promise<void> {
  const probe = withKernelMode('stock', () => tf.tidy(() => f(...xs)));
  const dy = rand(probe.shape, seed);
  probe.dispose();
  const stock = await evaluate('stock', f, xs, dy);
  const fused = await evaluate('fused', f, xs, dy);
  dy.dispose();
  for (const k of kernels) {
    expect(fused.kernels, 'the fused kernels ran').toContain(k);
    expect(stock.kernels, 'stock mode ran no fused kernel').not.toContain(k);
  }
  expect(fused.y.length).toBe(stock.y.length);
  expect(maxRelativeError(stock.y, fused.y)).toBeLessThan(TOL);
  stock.grads.forEach((g, i) => {
    expect(maxRelativeError(g, fused.grads[i]), `gradient ${i}`).toBeLessThan(TOL);
  });
}

/** Registers the kernel suites; the WebGPU backend must be active when they run. */
export function kernelSuites(): void {
  describe('fused RMSNorm', () => {
    it.each([
      [[3, 5, 64]],
      [[1, 7, 100]],
      [[2, 3, 4, 8]],
      // Gemma 3 270M: hidden 640, and q_norm / k_norm over 4 heads of 256.
      [[2, 5, 640]],
      [[2, 3, 4, 256]],
    ])('shape %j', async (shape) => {
      const x = rand(shape, 1, 2);
      const w = rand([shape[shape.length - 1]], 2);
      await expectSame((a) => rmsNorm(a, w, 1e-5), [x], [RMS_NORM, RMS_NORM_GRAD]);
      tf.dispose([x, w]);
    });
  });

  describe('fused residual add + RMSNorm', () => {
    it.each([[[2, 5, 64]], [[1, 3, 300]], [[2, 3, 640]]])('shape %j', async (shape) => {
      const x = rand(shape, 31, 2);
      const d = rand(shape, 32);
      const w = rand([shape[shape.length - 1]], 33);
      // Both outputs feed the result, as in the decoder (the sum is the next residual).
      await expectSame(
        (a, b) => {
          const { sum, normed } = addRmsNorm(a, b, w, 1e-5);
          return sum.mul(0.7).add(normed);
        },
        [x, d],
        [ADD_RMS_NORM, ADD_RMS_NORM_GRAD],
      );
      tf.dispose([x, d, w]);
    });

    it('when only the norm is used (the last layer: no gradient reaches the sum)', async () => {
      const x = rand([2, 4, 40], 34);
      const d = rand([2, 4, 40], 35);
      const w = rand([40], 36);
      await expectSame((a, b) => addRmsNorm(a, b, w, 1e-5).normed, [x, d], [ADD_RMS_NORM, ADD_RMS_NORM_GRAD]);
      tf.dispose([x, d, w]);
    });
  });

  describe('fused SwiGLU', () => {
    it.each([[[2, 7, 43]], [[1, 300]]])('shape %j', async (shape) => {
      const g = rand(shape, 3, 4);
      const u = rand(shape, 4);
      await expectSame((a, b) => swiglu(a, b), [g, u], [SWIGLU, SWIGLU_GRAD]);
      tf.dispose([g, u]);
    });
  });

  describe('fused GeGLU (gelu_pytorch_tanh)', () => {
    // Gates up to ±8: both tails of tanh and the middle.
    it.each([[[2, 7, 43]], [[1, 300]]])('shape %j', async (shape) => {
      const g = rand(shape, 3, 8);
      const u = rand(shape, 4);
      await expectSame((a, b) => geglu(a, b), [g, u], [GEGLU, GEGLU_GRAD]);
      tf.dispose([g, u]);
    });
  });

  describe('fused RoPE of q and k (with the heads-first transposes of q, k, v)', () => {
    // [B, T, H, Hk, d]
    it.each([
      [2, 5, 3, 1, 8],
      [1, 9, 4, 4, 16],
      [3, 1, 4, 1, 4],
    ])('B %i, T %i, H %i, Hk %i, d %i', async (b, t, h, hk, d) => {
      const q = rand([b, t, h, d], 5);
      const k = rand([b, t, hk, d], 51);
      const v = rand([b, t, hk, d], 52);
      const angles = rand([b, 1, t, d / 2], 6, 3);
      const cos = tf.concat([tf.cos(angles), tf.cos(angles)], 3);
      const sin = tf.concat([tf.sin(angles), tf.sin(angles)], 3);
      // One scalar out of the three results, with different weights, so every gradient counts.
      const w = [rand([b, h, t, d], 53), rand([b, hk, t, d], 54), rand([b, hk, t, d], 55)];
      await expectSame(
        (qq, kk, vv) => {
          const r = ropeQkv(qq as tf.Tensor4D, kk as tf.Tensor4D, vv as tf.Tensor4D, cos, sin);
          return tf.concat([r.q.mul(w[0]).reshape([-1]), r.k.mul(w[1]).reshape([-1]), r.v.mul(w[2]).reshape([-1])]);
        },
        [q, k, v],
        [ROPE_QKV, ROPE_QKV_GRAD],
      );
      tf.dispose([q, k, v, angles, cos, sin, ...w]);
    });
  });

  describe('fused LoRA linear', () => {
    // [x shape, out, r]
    it.each([
      [[2, 5, 24], 37, 1],
      [[2, 5, 24], 37, 64],
      [[3, 30, 70], 100, 8],
    ])('x %j, out %i, r %i', async (xShape, out, r) => {
      const inF = xShape[xShape.length - 1];
      const x = rand(xShape, 7);
      const w = rand([out, inF], 8, 0.2);
      const a = rand([r, inF], 9, 0.2);
      const b = rand([out, r], 10, 0.2);
      await expectSame((xx, aa, bb) => linear(xx, { w, lora: { a: aa, b: bb, scaling: 2.5 } }), [x, a, b], [LORA_LINEAR, LORA_MATMUL, LORA_GRAD_AB]);
      tf.dispose([x, w, a, b]);
    });

    it('with LoRA dropout on the low-rank branch, and a bias', async () => {
      const x = rand([2, 9, 33], 11);
      const w = rand([20, 33], 12, 0.2);
      const bias = rand([20], 16);
      const a = rand([4, 33], 13, 0.2);
      const b = rand([20, 4], 14, 0.2);
      const lora = (aa: tf.Tensor, bb: tf.Tensor) => ({ a: aa, b: bb, scaling: 0.5, dropout: { rate: 0.2, seed: 15 } });
      await expectSame((xx, aa, bb) => linear(xx, { w, bias, lora: lora(aa, bb) }), [x, a, b], [LORA_LINEAR_DROPOUT, LORA_MATMUL, LORA_GRAD_AB]);
      tf.dispose([x, w, bias, a, b]);
    });
  });

  describe('fused LoRA linears sharing their input (q/k/v, gate/up)', () => {
    // [x shape, outs, r]
    it.each([
      [[2, 5, 24], [37, 12], 1],
      [[2, 5, 24], [16, 8, 8], 64],
      [[1, 70, 20], [30, 10, 10], 8],
    ])('x %j, outs %j, r %i', async (xShape, outs, r) => {
      const inF = xShape[xShape.length - 1];
      const x = rand(xShape, 41);
      const ws = outs.map((o, i) => rand([o, inF], 42 + i, 0.2));
      const as = outs.map((_, i) => rand([r, inF], 46 + i, 0.2));
      const bs = outs.map((o, i) => rand([o, r], 50 + i, 0.2));
      await expectSame(
        (xx, ...ab) => {
          const ys = linears(xx, outs.map((_, i) => ({ w: ws[i], lora: { a: ab[i], b: ab[outs.length + i], scaling: 1.5 } })));
          return tf.concat(ys.map((y, i) => y.mul(i + 1).reshape([-1])));
        },
        [x, ...as, ...bs],
        [LORA_LINEAR_GROUP[outs.length], LORA_GRAD_U2, LORA_MATMUL, LORA_GRAD_AB],
      );
      tf.dispose([x, ...ws, ...as, ...bs]);
    });
  });

  describe('LoRA linears that the grouped kernel cannot take', () => {
    it('with dropout, each runs its own LoRA linear kernel', async () => {
      const x = rand([2, 5, 24], 61);
      const ws = [rand([12, 24], 62, 0.2), rand([12, 24], 63, 0.2)];
      const a = rand([4, 24], 64, 0.2);
      const b = rand([12, 4], 65, 0.2);
      const kernels = async (dropout?: { rate: number; seed: number }) => {
        const ys = () => tf.concat(linears(x, ws.map((w) => ({ w, lora: { a, b, scaling: 2, dropout } }))));
        const { kernelNames, result } = await tf.profile(() => withKernelMode('fused', ys));
        (result as tf.Tensor).dispose();
        return kernelNames;
      };
      expect(await kernels()).toContain(LORA_LINEAR_GROUP[2]);
      const dropped = await kernels({ rate: 0.2, seed: 3 });
      expect(dropped).toContain(LORA_LINEAR_DROPOUT);
      expect(dropped).not.toContain(LORA_LINEAR_GROUP[2]);
      tf.dispose([x, ...ws, a, b]);
    });
  });

  describe('fused causal GQA attention', () => {
    /** Key mask rows: 'all' real, 'right' padding at the end, 'left' padding at the start (dead query rows). */
    function keyMask(b: number, keys: number, kinds: Array<'all' | 'right' | 'left'>): tf.Tensor2D {
      const m = new Int32Array(b * keys).fill(1);
      kinds.forEach((kind, r) => {
        const pad = Math.max(1, Math.floor(keys / 3));
        for (let j = 0; j < pad; j++) {
          if (kind === 'right') m[r * keys + keys - 1 - j] = 0;
          if (kind === 'left') m[r * keys + j] = 0;
        }
      });
      return tf.tensor2d(m, [b, keys], 'int32');
    }

    // [B, H, Hk, T, past, D, masks]
    it.each([
      [1, 2, 2, 7, 0, 8, ['all']],
      [2, 6, 2, 11, 0, 8, ['right', 'left']],
      [1, 4, 1, 37, 0, 64, ['all']],
      [2, 3, 1, 20, 0, 16, ['left', 'right']],
      [2, 4, 4, 3, 6, 8, ['all', 'left']],
    ] as const)('B %i, H %i, Hk %i, T %i, past %i, D %i, masks %j', async (b, h, hk, t, past, d, masks) => {
      const s = t + past;
      const q = rand([b, h, t, d], 21);
      const k = rand([b, hk, s, d], 22);
      const v = rand([b, hk, s, d], 23);
      const mask = keyMask(b, s, [...masks]);
      await expectSame(
        (qq, kk, vv) => causalAttention(qq as tf.Tensor4D, kk as tf.Tensor4D, vv as tf.Tensor4D, mask),
        [q, k, v],
        [ATTENTION, ATTENTION_STATS, ATTENTION_GRAD_Q, ATTENTION_GRAD_KV],
      );
      tf.dispose([q, k, v, mask]);
    });

    // Gemma 3: sliding windows shorter than the sequence and a scale other than 1/√D.
    // [B, H, Hk, T, past, D, window, masks]
    it.each([
      // Right padding more than a window past the last real key: dead rows at the end too.
      [2, 4, 2, 20, 0, 8, 3, ['right', 'left']],
      // Several query blocks of 16 rows (D 64): blocks skip the keys before their windows.
      [1, 2, 1, 37, 0, 64, 5, ['all']],
      // The decode step: one query, a KV cache longer than the window.
      [2, 4, 1, 1, 12, 8, 4, ['all', 'left']],
      [1, 3, 1, 6, 9, 8, 7, ['left']],
      // Gemma 3 270M's heads: 4 query heads on 1 KV head of 256, sliding and full.
      [1, 4, 1, 9, 0, 256, 3, ['right']],
      [1, 4, 1, 6, 2, 256, Infinity, ['all']],
    ] as const)('B %i, H %i, Hk %i, T %i, past %i, D %i, window %d, masks %j', async (b, h, hk, t, past, d, window, masks) => {
      const s = t + past;
      const q = rand([b, h, t, d], 24);
      const k = rand([b, hk, s, d], 25);
      const v = rand([b, hk, s, d], 26);
      const mask = keyMask(b, s, [...masks]);
      await expectSame(
        (qq, kk, vv) => causalAttention(qq as tf.Tensor4D, kk as tf.Tensor4D, vv as tf.Tensor4D, mask, { window, scale: 0.3 }),
        [q, k, v],
        [ATTENTION, ATTENTION_STATS, ATTENTION_GRAD_Q, ATTENTION_GRAD_KV],
      );
      tf.dispose([q, k, v, mask]);
    });
  });

  describe('fused lm_head + cross-entropy', () => {
    // [rows, hidden, vocab, chunk bytes]: vocab not a multiple of the 64-column tile, rows not a
    // multiple of the 64-row tile, and backward chunks that split the vocabulary unevenly.
    it.each([
      [37, 40, 517, 37 * 4 * 128],
      [130, 64, 512, 128 * 2 ** 20],
      [1, 24, 70, 4],
    ])('rows %i, hidden %i, vocab %i, chunk bytes %i', async (n, h, v, chunkBytes) => {
      const x = rand([n, h], 41, 2);
      const w = rand([v, h], 42);
      const r = mulberry32(43);
      const labels = Int32Array.from({ length: n }, (_, i) => (i === 0 ? v - 1 : i === 1 ? 0 : Math.floor(r() * v)));
      await expectSame((a) => lmHeadCrossEntropy(a as tf.Tensor2D, w as tf.Tensor2D, labels, { chunkBytes }), [x], [LM_HEAD_CE, LM_HEAD_CE_GRAD]);
      tf.dispose([x, w]);
    });

    it('on every vec4 tile (as if tuned): vocab 301 in chunks of 128, 128 and 45 columns (the last read without vec4)', async () => {
      const [n, h, v] = [70, 40, 301];
      const x = rand([n, h], 44, 2);
      const w = rand([v, h], 45);
      const labels = Int32Array.from({ length: n }, (_, i) => (i * 37) % v);
      for (const cfg of TILE_CANDIDATES.filter((c) => c.vec4)) {
        clearTuning();
        setTile({ m: n, n: v, k: h, transP: false, transQ: true }, cfg);
        setTile({ m: n, n: h, k: v, transP: false, transQ: false }, cfg);
        const info = (shape: number[], dtype: tf.DataType = 'float32'): tf.TensorInfo => ({ dataId: {}, shape, dtype });
        // (The partials pass takes the default tile where the tuned one leaves its reduction no room.)
        const partials = partialsProgram(info([n, h]), info([v, h]), info([n], 'int32')).name;
        if (partialsTileFits(cfg)) expect(partials, 'the tuned tile is used').toContain(tileKey(cfg));
        else expect(partials).not.toContain('_v4');
        expect(headGradProgram(info([n, 128]), info([v, h]), null, 0).name).toContain(tileKey(cfg));
        await expectSame((a) => lmHeadCrossEntropy(a as tf.Tensor2D, w as tf.Tensor2D, labels, { chunkBytes: n * 4 * 128 }), [x], [LM_HEAD_CE, LM_HEAD_CE_GRAD]);
      }
      clearTuning();
      tf.dispose([x, w]);
    });

    it('rejects a label outside the vocabulary, naming its row', () => {
      const x = tf.zeros([2, 8]) as tf.Tensor2D;
      const w = tf.zeros([10, 8]) as tf.Tensor2D;
      expect(() => lmHeadCrossEntropy(x, w, Int32Array.from([3, 10]))).toThrow(/label 10 of row 1/);
      tf.dispose([x, w]);
    });
  });

  describe('fused optimizer step (global-norm clipping + AdamW)', () => {
    // 14 variables of odd sizes: three Σ g² dispatches, the last one partial.
    const shapes = Array.from({ length: 14 }, (_, i) => (i % 2 ? [3 + i, 17] : [8, 5 + 3 * i]));

    async function run(mode: KernelMode, maxNorm: number): Promise<{ params: Float32Array[]; norms: number[]; kernels: string[] }> {
      const vars = shapes.map((s, i) => newVariable(() => rand(s, 100 + i), true));
      const opt = new AdamW(vars, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
      const norms: number[] = [];
      let kernels: string[] = [];
      for (let step = 0; step < 3; step++) {
        const grads = shapes.map((s, i) => rand(s, 1000 * step + i, 0.5));
        const profile = await tf.profile(() => {
          const n = withKernelMode(mode, () => opt.clipAndApply(grads, 1e-2 * (step + 1), maxNorm));
          return n;
        });
        norms.push((await (profile.result as tf.Tensor).data())[0]);
        (profile.result as tf.Tensor).dispose();
        kernels = profile.kernelNames;
        tf.dispose(grads);
      }
      const params = await Promise.all(vars.map(async (v) => (await v.data()) as Float32Array));
      opt.dispose();
      tf.dispose(vars);
      return { params, norms, kernels };
    }

    it.each([[1], [100], [0]])('max norm %d equals the stock optimizer within 1e-5', async (maxNorm) => {
      const before = tf.memory().numTensors;
      const stock = await run('stock', maxNorm);
      const fused = await run('fused', maxNorm);
      expect(fused.kernels).toContain(ADAMW);
      expect(fused.kernels).toContain(SUM_SQUARES);
      expect(stock.kernels).not.toContain(ADAMW);
      expect(maxRelativeError(Float32Array.from(stock.norms), Float32Array.from(fused.norms))).toBeLessThan(1e-5);
      stock.params.forEach((p, i) => expect(maxRelativeError(p, fused.params[i]), `variable ${i}`).toBeLessThan(1e-5));
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  describe('tuned frozen-weight matmul', () => {
    it.each([
      [37, 70, 45, false, true],
      [5, 129, 64, false, false],
      [130, 17, 200, false, true],
      // vec4 tiles: interior tiles (unchecked reads, K a multiple of every TK) beside edge tiles,
      // every operand read as vec4s …
      [260, 200, 48, false, false],
      [200, 136, 32, true, true],
      // … and the scalar fallback where the contiguous axis is not a multiple of 4 (P's M, Q's K).
      [131, 132, 36, true, true],
      [133, 140, 37, false, true],
    ])('every candidate tile: m %i, n %i, k %i (P transposed %s, Q transposed %s) equals tf.matMul', async (m, n, k, transP, transQ) => {
      const p = rand(transP ? [k, m] : [m, k], 51) as tf.Tensor2D;
      const q = rand(transQ ? [n, k] : [k, n], 52) as tf.Tensor2D;
      const ref = (await tf.matMul(p, q, transP, transQ).data()) as Float32Array;
      for (const cfg of TILE_CANDIDATES) {
        const out = matmulWithTile(cfg, p, q, { m, n, k, transP, transQ });
        expect(maxRelativeError(ref, (await out.data()) as Float32Array), tileKey(cfg)).toBeLessThan(1e-5);
        out.dispose();
      }
      tf.dispose([p, q]);
    });

    it('the grouped product (dA with dB) and the LoRA down-projection on every candidate tile equal tf.matMul', async () => {
      // 130 tokens, in 68, out 37, r 8: column tiles that straddle the down-projection's parts.
      const [du, xd, dy, u] = [rand([130, 8], 61), rand([130, 68], 62), rand([130, 37], 63), rand([130, 8], 64)] as tf.Tensor2D[];
      const as = [rand([8, 68], 65), rand([8, 68], 66), rand([8, 68], 67)] as tf.Tensor2D[];
      const refs = tf.tidy(() => [tf.matMul(du, xd, true, false), tf.matMul(dy, u, true, false).mul(0.5), ...as.map((a) => tf.matMul(xd, a, false, true))]);
      const [refA, refB, ...refU] = (await Promise.all(refs.map((r) => r.data()))) as Float32Array[];
      tf.dispose(refs);
      const backend = tf.backend();
      const asTensor = (info: tf.TensorInfo) => tf.engine().makeTensorFromTensorInfo(info);
      for (const cfg of TILE_CANDIDATES) {
        const [da, db] = groupedMatmul(backend, { p: transposed(du), q: plain(xd), alpha: 1 }, { p: transposed(dy), q: plain(u), alpha: 0.5 }, cfg).map(asTensor);
        expect(maxRelativeError(refA, (await da.data()) as Float32Array), `dA ${tileKey(cfg)}`).toBeLessThan(1e-5);
        expect(maxRelativeError(refB, (await db.data()) as Float32Array), `dB ${tileKey(cfg)}`).toBeLessThan(1e-5);
        const us = loraDown(backend, xd, as, cfg).map(asTensor);
        for (let p = 0; p < as.length; p++) expect(maxRelativeError(refU[p], (await us[p].data()) as Float32Array), `U${p} ${tileKey(cfg)}`).toBeLessThan(1e-5);
        tf.dispose([da, db, ...us]);
      }
      tf.dispose([du, xd, dy, u, ...as]);
    });

    it('tuning picks a measured tile per problem, and the LoRA linear still equals stock with it', async () => {
      clearTuning();
      const results = await tuneFrozenMatmuls([{ in: 24, out: 37 }], 10);
      expect(results.map((r) => r.problem)).toEqual([
        { m: 10, n: 37, k: 24, transP: false, transQ: true },
        { m: 10, n: 24, k: 37, transP: false, transQ: false },
      ]);
      for (const r of results) {
        expect(Object.keys(r.ms).length).toBeGreaterThan(1);
        expect(Object.values(r.ms).every((ms) => ms > 0)).toBe(true);
        expect(tileKey(tileFor(r.problem))).toBe(r.best);
        // 9 … 16 rows share the bucket of the 10 measured; 17 rows do not.
        expect(tileFor({ ...r.problem, m: 16 })).toBe(tileFor(r.problem));
        expect(tileFor({ ...r.problem, m: 17 })).toBe(TILE_CANDIDATES[0]);
      }
      const x = rand([2, 5, 24], 53);
      const w = rand([37, 24], 54);
      const a = rand([4, 24], 55);
      const b = rand([37, 4], 56);
      await expectSame((xx, aa, bb) => linear(xx, { w, lora: { a: aa, b: bb, scaling: 2 } }), [x, a, b], [LORA_LINEAR, LORA_MATMUL]);
      tf.dispose([x, w, a, b]);
      clearTuning();
    });
  });

  describe('sampling on the device', () => {
    it('draws the host sampler\'s ids (ties, penalty, top-k, top-p, greedy) in one kernel', async () => {
      const random = mulberry32(61);
      const options: SamplingOptions[] = [{}, { repetitionPenalty: 1.5 }, { temperature: 1, topK: 3 }, { temperature: 0.8, topP: 0.6, repetitionPenalty: 1.3 }, { temperature: 1.3, topK: 40, topP: 0.9 }];
      for (const [n, opts] of options.entries()) {
        for (const vocab of [7, 700]) {
          // Rounded to halves: many ties, at the top-k and top-p cuts too.
          const logits = Float32Array.from({ length: 3 * vocab }, () => Math.round((random() * 2 - 1) * 8) / 2);
          const histories = [0, 1, 2].map(() => Array.from({ length: 6 }, () => Math.floor(random() * vocab)));
          const uniforms = [0, 1, 2].map(() => random());
          const want = histories.map((h, r) => sampleToken(logits.subarray(r * vocab, (r + 1) * vocab), h, opts, () => uniforms[r]!));
          const t = tf.tensor2d(logits, [3, vocab]);
          const profile = await tf.profile(() => sampleOnDevice(t, histories, uniforms, opts));
          expect(profile.kernelNames).toEqual([SAMPLE_TOKENS]);
          const ids = profile.result as tf.Tensor;
          expect(Array.from(await ids.data()), `options ${n}, vocab ${vocab}`).toEqual(want);
          tf.dispose([t, ids]);
        }
      }
    });
  });
}
