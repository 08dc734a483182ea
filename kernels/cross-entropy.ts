// Cross-entropy fused with the lm_head: loss_n = logsumexp(h_n·Wᵀ) − h_n·W_{y_n} for the rows h
// [N, H] that have a target, without the [N, V] logits (1.2 GB of them for Qwen2.5-0.5B at
// 2,040 trained tokens). Forward: 2 dispatches (per-tile partials, per-row combine). Backward:
// 2 dispatches per vocabulary chunk — the chunk's [N, Vc] softmax gradient, recomputed from h
// rather than kept from the forward, then dh += G·W_c — with Vc chosen so that G stays under
// `chunkBytes`. Stock: matMul, logSumExp's five kernels, the target gather, sub; backward the
// same again plus a full [N, V] gradient. The WGSL is in cross-entropy.wgsl.ts.
import { tf } from '../src/engine/tf';
import { selectRows } from './select-rows';
import { fusedActive } from './active';
import { i32, run } from './program';
import { runMulti } from './multi';
import { defineGradient, defineKernel, noGradient, runKernel, runKernelMulti } from './register';
import { MM, TILE_M, TILE_N } from './matmul.wgsl';
import { combineWgsl, headGradWgsl, partialsWgsl, softmaxGradWgsl } from './cross-entropy.wgsl';

export const LM_HEAD_CE = 'WebLoraLmHeadCrossEntropy';
export const LM_HEAD_CE_GRAD = 'WebLoraLmHeadCrossEntropyGrad';

/** The largest softmax-gradient chunk the backward keeps at once. */
export const DEFAULT_CHUNK_BYTES = 128 * 2 ** 20;
const COMBINE_WG = 64;
const tileGrid = (m: number, n: number): [number, number, number] => [Math.ceil(n / TILE_N), Math.ceil(m / TILE_M), 1];
const mmUniforms = 'dimM : i32, dimN : i32, dimK : i32, v0 : i32,';

/** Vocabulary columns per backward chunk: whole tiles, G [rows, Vc] within `chunkBytes`. */
export function chunkColumns(rows: number, vocab: number, chunkBytes: number): number {
  const fit = Math.floor(chunkBytes / (4 * Math.max(rows, 1)) / TILE_N) * TILE_N;
  return Math.min(vocab, Math.max(TILE_N, fit));
}

defineKernel(LM_HEAD_CE, ({ inputs, backend }) => {
  const { h, w, labels } = inputs;
  const [n, hidden] = h.shape;
  const vocab = w.shape[0];
  const tiles = Math.ceil(vocab / TILE_N);
  const part = run(
    backend,
    {
      key: 'ce_partials',
      inputs: ['HID', 'W', 'LABELS'],
      outputShape: [n, tiles, 3],
      workgroupSize: [MM.WX, MM.WY, 1],
      dispatch: tileGrid(n, vocab),
      flat: false,
      uniforms: `${mmUniforms} tiles : i32,`,
      code: partialsWgsl(),
    },
    [h, w, labels],
    [i32(n), i32(vocab), i32(hidden), i32(0), i32(tiles)],
  );
  // Rows fold into a second dimension past the per-dimension workgroup limit.
  const x = Math.min(n, 32768);
  const out = runMulti(
    backend,
    {
      key: `ce_combine_${COMBINE_WG}`,
      inputs: ['PART'],
      outputs: [
        { name: 'LOSS', shape: [n] },
        { name: 'LSE', shape: [n] },
      ],
      workgroupSize: [COMBINE_WG, 1, 1],
      dispatch: [x, Math.ceil(n / x), 1],
      flat: false,
      uniforms: 'rows : i32, tiles : i32,',
      code: combineWgsl(COMBINE_WG),
    },
    [part],
    [i32(n), i32(tiles)],
  );
  (backend as tf.KernelBackend).disposeData(part.dataId);
  return out;
});

defineKernel(LM_HEAD_CE_GRAD, ({ inputs, backend, attrs }) => {
  const { h, w, labels, lse, dy } = inputs;
  const b = backend as tf.KernelBackend;
  const [n, hidden] = h.shape;
  const vocab = w.shape[0];
  const vc = chunkColumns(n, vocab, attrs.chunkBytes as number);
  let dh: tf.TensorInfo | null = null;
  for (let v0 = 0; v0 < vocab; v0 += vc) {
    const cols = Math.min(vc, vocab - v0);
    const g = run(
      backend,
      {
        key: 'ce_softmax_grad',
        inputs: ['HID', 'W', 'LABELS', 'LSE', 'DY'],
        outputShape: [n, cols],
        workgroupSize: [MM.WX, MM.WY, 1],
        dispatch: tileGrid(n, cols),
        flat: false,
        uniforms: mmUniforms,
        code: softmaxGradWgsl(),
      },
      [h, w, labels, lse, dy],
      [i32(n), i32(cols), i32(hidden), i32(v0)],
    );
    const next: tf.TensorInfo = run(
      backend,
      {
        key: `ce_head_grad${dh ? '_acc' : ''}`,
        inputs: dh ? ['G', 'W', 'ACC'] : ['G', 'W'],
        outputShape: [n, hidden],
        workgroupSize: [MM.WX, MM.WY, 1],
        dispatch: tileGrid(n, hidden),
        flat: false,
        uniforms: mmUniforms,
        code: headGradWgsl(!!dh),
      },
      dh ? [g, w, dh] : [g, w],
      [i32(n), i32(hidden), i32(cols), i32(v0)],
    );
    b.disposeData(g.dataId);
    if (dh) b.disposeData(dh.dataId);
    dh = next;
  }
  return dh!;
});

defineGradient({
  kernelName: LM_HEAD_CE,
  inputsToSave: ['h', 'w', 'labels'],
  outputsToSave: [false, true],
  gradFunc: (dys, saved, attrs) => {
    // The second output (lse) is only kept for this gradient; its own gradient is ignored.
    const [dy] = dys as tf.Tensor[];
    const [h, w, labels, lse] = saved;
    return {
      h: () => runKernel(LM_HEAD_CE_GRAD, { h, w, labels, lse, dy }, { chunkBytes: attrs.chunkBytes as number }),
      w: noGradient(LM_HEAD_CE, 'w'),
      labels: noGradient(LM_HEAD_CE, 'labels'),
    };
  },
});

/** The stock composition: full logits, logsumexp, the target logits picked by row. */
export function lmHeadCrossEntropyStock(h: tf.Tensor2D, w: tf.Tensor2D, labels: Int32Array): tf.Tensor1D {
  const logits = tf.matMul(h, w, false, true) as tf.Tensor2D;
  const vocab = logits.shape[1];
  const flatIdx = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) flatIdx[i] = i * vocab + labels[i];
  const targetLogits = selectRows(logits.reshape([-1, 1]), flatIdx).reshape([-1]);
  return tf.logSumExp(logits, 1).sub(targetLogits) as tf.Tensor1D;
}

/**
 * −log softmax(h·Wᵀ)[label] per row, for h [N, H], the frozen head W [V, H] and N labels in
 * [0, V). Fused on webgpu in kernel mode 'fused' (no gradient for W), stock otherwise.
 */
export function lmHeadCrossEntropy(h: tf.Tensor2D, w: tf.Tensor2D, labels: Int32Array, opts: { chunkBytes?: number } = {}): tf.Tensor1D {
  const [n, hidden] = h.shape;
  const vocab = w.shape[0];
  if (w.shape[1] !== hidden) throw new Error(`lmHeadCrossEntropy: head ${w.shape} does not match hidden states ${h.shape}`);
  if (labels.length !== n) throw new Error(`lmHeadCrossEntropy: ${labels.length} labels for ${n} rows`);
  const bad = labels.findIndex((l) => !(l >= 0 && l < vocab));
  if (bad >= 0) throw new Error(`lmHeadCrossEntropy: label ${labels[bad]} of row ${bad} is outside the vocabulary [0, ${vocab})`);
  if (!fusedActive()) return lmHeadCrossEntropyStock(h, w, labels);
  const [loss] = runKernelMulti(LM_HEAD_CE, { h, w, labels: tf.tensor1d(labels, 'int32') }, { chunkBytes: opts.chunkBytes ?? DEFAULT_CHUNK_BYTES });
  return loss as tf.Tensor1D;
}
