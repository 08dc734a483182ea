// Precision 'f16-base' on Mesa's lavapipe (a CPU Vulkan with shader-f16, which SwiftShader
// lacks). Vitest's forks pool gives this file a process of its own, so Dawn loads here with
// lavapipe's ICD. The half kernels against float64 of the same f16-rounded weights; the model's
// frozen bytes halved; 50 training steps of stories260K in f16-base following fp32's losses.
// (The subgroup-matrix kernel needs matrix units: lavapipe has none; bench/f16-check.ts proves
// it on a GPU.) The tuned model's held-out instructions are in test/slow/train-story-instruct-f16.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend, type BackendInfo } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import type { LoadedModel } from '../../src/engine/model/load';
import { estimateTrainingMemory } from '../../src/engine/model/memory';
import { HalfWeight, isHalf, roundF16 } from '../../kernels/half';
import { checkHalfMatmul, matmulHalf } from '../../kernels/matmul-f16';
import { embedding, lmHeadCrossEntropy, linear } from '../../kernels';
import { loadStories } from '../helpers/stories';
import { storyInstruct } from '../helpers/story-data';
import { firstLosses } from '../helpers/train-suite';
import { maxRelativeError } from '../helpers/numerics';
import { runCliInProcess } from '../helpers/cli-run';
import { STORIES_DIR } from '../helpers/paths';
import { STORY_INSTRUCT } from '../helpers/story-data';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let info: BackendInfo;

beforeAll(async () => {
  await installNodeWebGPU({ lavapipe: true });
  info = await initBackend({ prefer: 'webgpu', precision: 'f16-base' });
});

/** Deterministic values in ±scale. */
const values = (n: number, scale: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * scale);

/** float64 C = α·P·op(W) [+ α2·P2·op(Q2)] [+ acc]; W [rows, cols] row-major. */
function reference(p: Float32Array, w: Float32Array, m: number, k: number, n: number, transW: boolean, alpha: number, extra?: (r: number, c: number) => number): Float64Array {
  const out = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < n; c++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += p[r * k + j] * (transW ? w[c * k + j] : w[j * n + c]);
      out[r * n + c] = alpha * s + (extra ? extra(r, c) : 0);
    }
  }
  return out;
}

const read = async (info: tf.TensorInfo) => {
  const t = tf.engine().makeTensorFromTensorInfo(info);
  const d = (await t.data()) as Float32Array;
  t.dispose();
  return d;
};

describe('precision f16-base on lavapipe', () => {
  it('the device has shader-f16 and subgroups; f16-base runs the SIMT f16 kernel (no matrix units here)', () => {
    expect(info.adapter?.description).toMatch(/llvmpipe/);
    expect(info.features).toEqual(expect.arrayContaining(['shader-f16', 'subgroups']));
    expect([info.precision, info.frozenMatmul, info.frozenMatmulNote]).toEqual(['f16-base', 'simt-f16', undefined]);
  });

  it('a subgroup-matrix kernel that fails on the device is refused with the reason, and the backend goes on working', async () => {
    // lavapipe has no matrix units: the module is invalid here, as a broken one would be on a GPU.
    const refused = await checkHalfMatmul({ shape: { M: 16, N: 16, K: 16 }, lanes: 32 });
    expect(refused.why).toMatch(/subgroup-matrix kernel failed validation: .*chromium_experimental_subgroup_matrix/s);
    const simt = await checkHalfMatmul(null);
    expect(simt.why).toBeUndefined();
    expect(simt.error).toBeLessThan(1e-3);
  });

  it('SIMT f16: x·Wᵀ + s·u·Bᵀ and dy·W + du·A + acc equal float64 of the f16-rounded W within 1e-3', async () => {
    // Odd sizes: several 64×64 tiles with ragged edges; K not a multiple of 16; r 5.
    const [m, k, n, r] = [131, 83, 70, 5];
    const w = values(n * k, 0.5, 1);
    const w16 = w.map(roundF16);
    const half = HalfWeight.fromFloat32(w, [n, k], 'W');
    const x = values(m * k, 2, 2);
    const u = values(m * r, 1, 3);
    const b = values(n * r, 0.3, 4);
    const tx = tf.tensor2d(x, [m, k]);
    const tu = tf.tensor2d(u, [m, r]);
    const tb = tf.tensor2d(b, [n, r]);
    const fwd = await read(matmulHalf(tf.backend(), tx, { t: half.packed, rows: n, cols: k }, true, 1, { p: tu, q: tb, transQ: true, alpha: 0.7 }));
    const low = (i: number, j: number) => 0.7 * Array.from({ length: r }, (_, c) => u[i * r + c] * b[j * r + c]).reduce((s, v) => s + v, 0);
    const fwdRef = reference(x, w16, m, k, n, true, 1, low);
    const err = maxRelativeError(fwdRef, fwd);
    expect(err).toBeLessThan(1e-3);
    // The unrounded W's product is 10× further off than the kernel's error: W really is halves.
    expect(maxRelativeError(reference(x, w, m, k, n, true, 1, low), fwd)).toBeGreaterThan(10 * err);

    // Backward: dy [m, n] · W [n, k] + du [m, r] · A [r, k] + acc, tiny gradients (no f16 underflow: dy stays float32).
    const dy = values(m * n, 1e-7, 5);
    const du = values(m * r, 1e-7, 6);
    const a = values(r * k, 0.2, 7);
    const acc = values(m * k, 1e-6, 8);
    const tdy = tf.tensor2d(dy, [m, n]);
    const tdu = tf.tensor2d(du, [m, r]);
    const ta = tf.tensor2d(a, [r, k]);
    const tacc = tf.tensor2d(acc, [m, k]);
    const bwd = await read(matmulHalf(tf.backend(), tdy, { t: half.packed, rows: n, cols: k }, false, 1, { p: tdu, q: ta, transQ: false, alpha: 1 }, tacc));
    const bwdRef = reference(dy, w16, m, n, k, false, 1, (i, j) => acc[i * k + j] + Array.from({ length: r }, (_, c) => du[i * r + c] * a[c * k + j]).reduce((s, v) => s + v, 0));
    expect(maxRelativeError(bwdRef, bwd)).toBeLessThan(1e-3);
    tf.dispose([tx, tu, tb, tdy, tdu, ta, tacc]);
    half.dispose();
  });

  it('a linear without LoRA on halves: y = x·Wᵀ + bias and its input gradient dy·W equal float64 within 1e-3', async () => {
    const [m, k, n] = [37, 48, 29];
    const w = values(n * k, 0.5, 9);
    const w16 = w.map(roundF16);
    const half = HalfWeight.fromFloat32(w, [n, k], 'W');
    const xs = values(m * k, 1, 10);
    const bs = values(n, 1, 11);
    const x = tf.tensor3d(xs, [1, m, k]);
    const bias = tf.tensor1d(bs);
    const dy = values(m * n, 1, 12);
    const { value, grads } = tf.valueAndGrads((xv: tf.Tensor) => linear(xv, { w: half, bias }).mul(tf.tensor3d(dy, [1, m, n])).sum())([x]);
    const y = tf.tidy(() => linear(x, { w: half, bias }));
    const yRef = reference(xs, w16, m, k, n, true, 1, (_, j) => bs[j]);
    expect(maxRelativeError(yRef, (await y.data()) as Float32Array)).toBeLessThan(1e-3);
    const dxRef = reference(dy, w16, m, n, k, false, 1);
    expect(maxRelativeError(dxRef, (await grads[0].data()) as Float32Array)).toBeLessThan(1e-3);
    tf.dispose([x, bias, y, value, ...grads]);
    half.dispose();
  });

  it('the embedding reads rows of halves exactly; the lm_head cross-entropy on halves equals float64 (loss and dh) within 1e-3', async () => {
    const [vocab, hidden, rows] = [133, 24, 9];
    const w = values(vocab * hidden, 1, 13);
    const w16 = w.map(roundF16);
    const half = HalfWeight.fromFloat32(w, [vocab, hidden], 'embed');
    const ids = tf.tensor2d([0, 5, 132, 7, 64, 1], [2, 3], 'int32');
    const emb = embedding(half, ids);
    expect(emb.shape).toEqual([2, 3, hidden]);
    const want = [0, 5, 132, 7, 64, 1].flatMap((id) => Array.from(w16.subarray(id * hidden, (id + 1) * hidden)));
    expect(Array.from((await emb.data()) as Float32Array)).toEqual(want);

    const h = values(rows * hidden, 1, 14);
    const labels = Int32Array.from({ length: rows }, (_, i) => (i * 37) % vocab);
    const th = tf.tensor2d(h, [rows, hidden]);
    const { value: loss, grads } = tf.valueAndGrads((hv: tf.Tensor) => lmHeadCrossEntropy(hv as tf.Tensor2D, half, labels).sum())([th]);
    let lossRef = 0;
    const dhRef = new Float64Array(rows * hidden);
    for (let i = 0; i < rows; i++) {
      const z = Array.from({ length: vocab }, (_, v) => Array.from({ length: hidden }, (_, c) => h[i * hidden + c] * w16[v * hidden + c]).reduce((s, t) => s + t, 0));
      const max = Math.max(...z);
      const sum = z.reduce((s, t) => s + Math.exp(t - max), 0);
      lossRef += max + Math.log(sum) - z[labels[i]];
      for (let v = 0; v < vocab; v++) {
        const g = Math.exp(z[v] - max) / sum - (v === labels[i] ? 1 : 0);
        for (let c = 0; c < hidden; c++) dhRef[i * hidden + c] += g * w16[v * hidden + c];
      }
    }
    expect(Math.abs((await loss.data())[0] - lossRef) / Math.abs(lossRef)).toBeLessThan(1e-3);
    expect(maxRelativeError(dhRef, (await grads[0].data()) as Float32Array)).toBeLessThan(1e-3);
    tf.dispose([ids, emb, th, loss, ...grads]);
    half.dispose();
  });

  describe('stories260K', () => {
    let fp32: LoadedModel;
    let f16: LoadedModel;
    let train: Awaited<ReturnType<typeof storyInstruct>>['train'];
    let bytes: { fp32: number; f16: number };

    beforeAll(async () => {
      await initBackend({ prefer: 'webgpu', precision: 'fp32' });
      let before = tf.memory().numBytes;
      fp32 = await loadStories();
      const fp32Bytes = tf.memory().numBytes - before;
      await initBackend({ prefer: 'webgpu', precision: 'f16-base' });
      before = tf.memory().numBytes;
      f16 = await loadStories();
      bytes = { fp32: fp32Bytes, f16: tf.memory().numBytes - before };
      train = (await storyInstruct(f16.tokenizer)).train;
    });

    it('every matrix is stored in halves, vectors in float32; the frozen bytes are halved, as the memory estimate says', () => {
      for (const [name, w] of f16.model.weights) expect(isHalf(w), name).toBe(w.shape.length === 2);
      const vectors = [...fp32.model.weights.values()].filter((w) => w.shape.length === 1).reduce((s, w) => s + w.shape[0] * 4, 0);
      console.log(`stories260K frozen bytes on the GPU: fp32 ${bytes.fp32}, f16-base ${bytes.f16}`);
      expect(bytes.f16).toBe((bytes.fp32 - vectors) / 2 + vectors);
      const lora = { r: 8, targetModules: ['q_proj'] };
      expect(estimateTrainingMemory(f16.config, lora, 1, 1, 'fused', 'f16-base').weightsBytes).toBe(bytes.f16);
      expect(estimateTrainingMemory(fp32.config, lora, 1, 1, 'fused', 'fp32').weightsBytes).toBe(bytes.fp32);
    });

    it('50 training steps in f16-base follow the fp32 losses within 1e-2 relative, with flat memory', { timeout: 1_800_000 }, async () => {
      await initBackend({ prefer: 'webgpu', precision: 'fp32' });
      const ref = await firstLosses(fp32, train, 50, { tuneKernels: false });
      const info16 = await initBackend({ prefer: 'webgpu', precision: 'f16-base' });
      expect(info16.precision).toBe('f16-base');
      const memory: { numTensors: number; numBytes: number }[] = [];
      const half = await firstLosses(f16, train, 50, { tuneKernels: false }, (e) => {
        if (e.type === 'step') memory[e.step] = { numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes };
      });
      const worst = Math.max(...ref.map((l, i) => Math.abs(half[i] - l) / Math.abs(l)));
      console.log(`50 losses, fp32 → f16-base: first ${ref[0]} → ${half[0]}, last ${ref[49]} → ${half[49]}, worst relative difference ${worst.toExponential(2)}`);
      expect(half).toHaveLength(50);
      expect(worst).toBeLessThan(1e-2);
      // Not the same run twice: the halves change the numbers.
      expect(worst).toBeGreaterThan(0);
      expect(ref[49]).toBeLessThan(0.8 * ref[0]);
      expect(memory[50]).toEqual(memory[2]);
    });
  });

  it('weblora train --precision f16-base records the precision and the kernel in train_log.json; on wasm it is refused, saying why', { timeout: 600_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), 'weblora-f16-'));
    try {
      const flags = ['train', '--model', STORIES_DIR, '--data', STORY_INSTRUCT, '--max-steps', '2', '--batch', '2', '--max-len', '64'];
      const run = await runCliInProcess([...flags, '--backend', 'webgpu', '--precision', 'f16-base', '--out', join(out, 'a')]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/precision f16-base \(frozen matmuls: simt-f16\)/);
      const log = JSON.parse(await readFile(join(out, 'a', 'train_log.json'), 'utf8'));
      expect([log.precision, log.frozen_matmul]).toEqual(['f16-base', 'simt-f16']);
      const refused = await runCliInProcess([...flags, '--backend', 'wasm', '--precision', 'f16-base', '--out', join(out, 'b')]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/precision f16-base runs only on WebGPU, not wasm; choose precision fp32/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
