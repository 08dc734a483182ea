// Gemma 3's 262,144-token vocabulary through the fused lm_head + cross-entropy on Dawn/SwiftShader:
// no [tokens, vocab] buffer is ever allocated — the GPU buffer manager's own high-water mark stays
// far below N·V·4 bytes, where the stock composition's largest buffer is N·V·4 — and at a
// vocabulary that is not a multiple of the tile, with backward chunks that split it unevenly, the
// losses and the hidden-state gradient equal a float64 reference and the stock ops.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import { DEFAULT_CHUNK_BYTES, lmHeadCrossEntropy, withKernelMode, type KernelMode } from '../../kernels';
import { LM_HEAD_CE, LM_HEAD_CE_GRAD } from '../../kernels/cross-entropy';
import { executeDispatches, installDispatchCounter, placeholderBuffers } from '../../bench/lib/dispatch';
import { mulberry32 } from '../../src/engine/rng';
import { maxRelativeError } from '../helpers/numerics';

interface BufferManager {
  numBytesUsed: number;
  acquireBuffer(size: number, ...rest: unknown[]): GPUBuffer;
}

/** The webgpu backend's buffer manager, watched: peak bytes in use above the start, largest single buffer. */
function watchBuffers(): { stop: () => { peakBytes: number; largest: number } } {
  const manager = (tf.backend() as unknown as { bufferManager: BufferManager }).bufferManager;
  const acquire = manager.acquireBuffer;
  const start = manager.numBytesUsed;
  let peak = start;
  let largest = 0;
  manager.acquireBuffer = function (this: BufferManager, size: number, ...rest: unknown[]) {
    const buffer = acquire.call(this, size, ...rest);
    largest = Math.max(largest, size);
    peak = Math.max(peak, this.numBytesUsed);
    return buffer;
  };
  return {
    stop: () => {
      delete (manager as Partial<BufferManager>).acquireBuffer;
      return { peakBytes: peak - start, largest };
    },
  };
}

function randArray(n: number, seed: number, scale: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

/** Per-row losses and dh = ∂(Σ loss·dy)/∂h, in one kernel mode (and the kernels that ran). */
async function lossAndGrad(mode: KernelMode, h: tf.Tensor2D, w: tf.Tensor2D, labels: Int32Array, dy: tf.Tensor1D, chunkBytes?: number) {
  const profile = await tf.profile(() =>
    withKernelMode(mode, () =>
      tf.tidy(() => {
        // One forward and its backward, as a training step runs them.
        const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => lmHeadCrossEntropy(x as tf.Tensor2D, w, labels, { chunkBytes }))(h, dy);
        return [value, grad];
      }),
    ),
  );
  return { result: profile.result as tf.Tensor[], kernels: profile.kernelNames };
}

beforeAll(async () => {
  expect(await installNodeWebGPU({ swiftshader: true })).toBe(true);
  expect((await initBackend({ prefer: 'webgpu' })).name).toBe('webgpu');
});

describe('fused lm_head + cross-entropy at Gemma 3’s vocabulary', () => {

  it('vocab 4,099 in five uneven chunks: losses and dh equal float64 and stock', async () => {
    const [n, hidden, vocab] = [70, 24, 4099];
    const chunkBytes = n * 4 * 1024;
    const hData = randArray(n * hidden, 1, 2);
    const wData = randArray(vocab * hidden, 2, 1);
    const dyData = randArray(n, 4, 1);
    const r = mulberry32(3);
    const labels = Int32Array.from({ length: n }, (_, i) => (i === 0 ? vocab - 1 : i === 1 ? 0 : Math.floor(r() * vocab)));
    const h = tf.tensor2d(hData, [n, hidden]);
    const w = tf.tensor2d(wData, [vocab, hidden]);
    const dy = tf.tensor1d(dyData);
    const fused = await lossAndGrad('fused', h, w, labels, dy, chunkBytes);
    const stock = await lossAndGrad('stock', h, w, labels, dy, chunkBytes);
    expect(fused.kernels).toContain(LM_HEAD_CE_GRAD);
    expect(stock.kernels).not.toContain(LM_HEAD_CE);
    const [fl, fdh, sl, sdh] = await Promise.all([...fused.result, ...stock.result].map(async (t) => (await t.data()) as Float32Array));
    tf.dispose([h, w, dy, ...fused.result, ...stock.result]);

    const refLoss = new Float64Array(n);
    const refDh = new Float64Array(n * hidden);
    for (let i = 0; i < n; i++) {
      const logits = Array.from({ length: vocab }, (_, v) => {
        let s = 0;
        for (let c = 0; c < hidden; c++) s += hData[i * hidden + c] * wData[v * hidden + c];
        return s;
      });
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((a, s) => a + Math.exp(s - max), 0));
      refLoss[i] = lse - logits[labels[i]];
      for (let v = 0; v < vocab; v++) {
        const p = Math.exp(logits[v] - lse) - (v === labels[i] ? 1 : 0);
        for (let c = 0; c < hidden; c++) refDh[i * hidden + c] += p * wData[v * hidden + c] * dyData[i];
      }
    }
    expect(maxRelativeError(refLoss, fl)).toBeLessThan(1e-4);
    expect(maxRelativeError(refDh, fdh)).toBeLessThan(1e-4);
    expect(maxRelativeError(sl, fl)).toBeLessThan(1e-4);
    expect(maxRelativeError(sdh, fdh)).toBeLessThan(1e-4);
  });

  // Counted, not executed (bench --count-only's mode: every buffer is acquired and every dispatch
  // issued as in a real step, test/webgpu/bench-count-only.test.ts): a 262,144-column product
  // takes minutes a pass on SwiftShader. Computed buffers become placeholders for the rest of
  // this file, so this test comes last.
  it('vocab 262,144 at 512 tokens: no [tokens, vocab] buffer, peak far below N·V·4 (stock: N·V·4)', async () => {
    const [n, hidden, vocab] = [512, 64, 262_144];
    const full = n * vocab * 4;
    installDispatchCounter();
    executeDispatches(false);
    placeholderBuffers();
    try {
      // Made on the GPU (fill kernels), so no upload of the inputs counts as the op's.
      const h = tf.fill([n, hidden], 0.5) as tf.Tensor2D;
      const w = tf.fill([vocab, hidden], 0.25) as tf.Tensor2D;
      const dy = tf.fill([n], 1) as tf.Tensor1D;
      const labels = Int32Array.from({ length: n }, (_, i) => (i * 7919) % vocab);
      const measure = async (mode: KernelMode) => {
        const watch = watchBuffers();
        const { result, kernels } = await lossAndGrad(mode, h, w, labels, dy);
        const bytes = watch.stop();
        tf.dispose(result);
        return { ...bytes, kernels };
      };
      const fused = await measure('fused');
      const stock = await measure('stock');
      tf.dispose([h, w, dy]);
      expect(fused.kernels).toContain(LM_HEAD_CE_GRAD);
      // The largest buffer is one backward chunk of the softmax gradient, at most 128 MiB.
      expect(fused.largest).toBeLessThanOrEqual(DEFAULT_CHUNK_BYTES);
      // One chunk at a time, beside the forward's per-tile partials [N, V / 64, 3] and dh.
      const partials = n * Math.ceil(vocab / 64) * 3 * 4;
      expect(fused.peakBytes).toBeLessThan(DEFAULT_CHUNK_BYTES + partials + 2 ** 20);
      expect(fused.peakBytes).toBeLessThan(full / 3);
      // The watch sees what stock makes: the [N, V] logits.
      expect(stock.largest).toBeGreaterThanOrEqual(full);
      console.log(`vocab ${vocab}, ${n} rows: fused peak ${(fused.peakBytes / 2 ** 20).toFixed(0)} MiB (largest ${(fused.largest / 2 ** 20).toFixed(0)} MiB), stock peak ${(stock.peakBytes / 2 ** 20).toFixed(0)} MiB; N·V·4 = ${full / 2 ** 20} MiB`);
    } finally {
      executeDispatches(true);
    }
  });
});
