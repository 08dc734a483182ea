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
import { i32, type Program } from './program';
import { dispatch, submit } from './dispatch';
import { defineGradient, defineKernel, noGradient, runKernel, runKernelMulti } from './register';
import { MM, tileBytes, tileKey, tileM, tileN, type TileConfig } from './matmul.wgsl';
import { tileFor } from './tuning';
import { combineWgsl, headGradWgsl, partialsWgsl, softmaxGradWgsl } from './cross-entropy.wgsl';
import { isHalf, type FrozenWeight } from './half';
import { needsFused } from './half-ops';

export const LM_HEAD_CE = 'WebLoraLmHeadCrossEntropy';
export const LM_HEAD_CE_GRAD = 'WebLoraLmHeadCrossEntropyGrad';

/** The largest softmax-gradient chunk the backward keeps at once. */
export const DEFAULT_CHUNK_BYTES = 128 * 2 ** 20;
const COMBINE_WG = 64;
const TILE_N = tileN(MM);

/** Vocabulary columns per backward chunk: whole tiles, G [rows, Vc] within `chunkBytes`. */
function chunkColumns(rows: number, vocab: number, chunkBytes: number): number {
  const fit = Math.floor(chunkBytes / (4 * Math.max(rows, 1)) / TILE_N) * TILE_N;
  return Math.min(vocab, Math.max(TILE_N, fit));
}

/** The head's [V, H]: W's shape, or `attrs.wShape` when W is halves (precision f16-base). */
function headShape(w: tf.TensorInfo, half?: number[]): [number, number] {
  return half ? [half[0], half[1]] : [w.shape[0], w.shape[1]];
}

/**
 * The tile of the lm_head's products, as measured for the whole product (kernels/tuning.ts; the
 * default where untuned): logits h·Wᵀ [N, V] over H, and dh = G·W [N, H] over V.
 */
const logitsTile = (rows: number, vocab: number, hidden: number) => tileFor({ m: rows, n: vocab, k: hidden, transP: false, transQ: true });
const headGradTile = (rows: number, vocab: number, hidden: number) => tileFor({ m: rows, n: hidden, k: vocab, transP: false, transQ: false });

/**
 * Whether the partials pass can run on `cfg`: its row reduction (tile rows × WX floats) shares
 * WebGPU's default 16 KiB of workgroup memory with the tiles. Where it cannot, it takes the default tile.
 */
export const partialsTileFits = (cfg: TileConfig) => tileBytes(cfg) + 4 * tileM(cfg) * cfg.WX <= 16384;

/** On a vec4 tile, P (HID or G, contiguous along K) is read as vec4s when K is a multiple of 4. */
const vecP = (cfg: TileConfig, k: number) => !!cfg.vec4 && k % 4 === 0;

/** A tiled product of m × n outputs over k on the tile `cfg`, columns from `v0`; W read from halves with `half`; P (`p`) as vec4s with `vec`. */
function tiled(name: string, inputs: Program['inputs'], outputs: Program['outputs'], [m, n, k, v0]: number[], code: string, extra: Program['uniforms'] = {}, half = false, cfg: TileConfig = MM, vec?: string): Program {
  return {
    ...(half ? { half: ['W'], extensions: ['f16'] as const } : {}),
    name: `${name}${half ? '_h' : ''}${cfg === MM ? '' : `_${tileKey(cfg)}`}${vec ? '_vp' : ''}`,
    outputs,
    inputs,
    uniforms: { dimM: i32(m), dimN: i32(n), dimK: i32(k), v0: i32(v0), ...extra },
    workgroupSize: [cfg.WX, cfg.WY, 1],
    dispatch: [Math.ceil(n / tileN(cfg)), Math.ceil(m / tileM(cfg)), 1],
    flat: false,
    code,
    ...(vec ? { vec4: [vec] } : {}),
  };
}

/** PART [N, tiles, 3]: per logits tile and row, its max, Σ exp and target logit. */
export function partialsProgram(h: tf.TensorInfo, w: tf.TensorInfo, labels: tf.TensorInfo, half?: number[], tile?: TileConfig): Program {
  const [n, hidden] = h.shape;
  const [vocab] = headShape(w, half);
  const wanted = tile ?? logitsTile(n, vocab, hidden);
  const cfg = partialsTileFits(wanted) ? wanted : MM;
  const vec = vecP(cfg, hidden);
  const tiles = Math.ceil(vocab / tileN(cfg));
  return tiled('ce_partials', { HID: h, W: w, LABELS: labels }, { result: [n, tiles, 3] }, [n, vocab, hidden, 0], partialsWgsl(!!half, cfg, vec), { tiles: i32(tiles) }, !!half, cfg, vec ? 'HID' : undefined);
}

/** LOSS [N] and LSE [N] from PART; one workgroup per row (rows fold into y past the x limit). */
export function combineProgram(part: tf.TensorInfo): Program {
  const [n, tiles] = part.shape;
  const x = Math.min(n, 32768);
  return {
    name: `ce_combine_${COMBINE_WG}`,
    outputs: { LOSS: [n], LSE: [n] },
    inputs: { PART: part },
    uniforms: { rows: i32(n), tiles: i32(tiles) },
    workgroupSize: [COMBINE_WG, 1, 1],
    dispatch: [x, Math.ceil(n / x), 1],
    flat: false,
    code: combineWgsl(COMBINE_WG),
  };
}

/** G [N, cols] = dy ⊙ (softmax − onehot) over the vocabulary columns v0 … v0 + cols. */
export function softmaxGradProgram(h: tf.TensorInfo, w: tf.TensorInfo, labels: tf.TensorInfo, lse: tf.TensorInfo, dy: tf.TensorInfo, v0: number, cols: number, half?: number[], tile?: TileConfig): Program {
  const [n, hidden] = h.shape;
  const cfg = tile ?? logitsTile(n, headShape(w, half)[0], hidden);
  const vec = vecP(cfg, hidden);
  return tiled('ce_softmax_grad', { HID: h, W: w, LABELS: labels, LSE: lse, DY: dy }, { result: [n, cols] }, [n, cols, hidden, v0], softmaxGradWgsl(!!half, cfg, vec), {}, !!half, cfg, vec ? 'HID' : undefined);
}

/** dh [N, H] (+ ACC) = G·W[v0 … v0 + cols]. */
export function headGradProgram(g: tf.TensorInfo, w: tf.TensorInfo, acc: tf.TensorInfo | null, v0: number, half?: number[], tile?: TileConfig): Program {
  const [n, cols] = g.shape;
  const [vocab, hidden] = headShape(w, half);
  const cfg = tile ?? headGradTile(n, vocab, hidden);
  const vec = vecP(cfg, cols);
  const inputs = { G: g, W: w, ...(acc ? { ACC: acc } : {}) };
  return tiled(`ce_head_grad${acc ? '_acc' : ''}`, inputs, { result: [n, hidden] }, [n, hidden, cols, v0], headGradWgsl(!!acc, !!half, cfg, vec), {}, !!half, cfg, vec ? 'G' : undefined);
}

defineKernel(LM_HEAD_CE, ({ inputs, backend, attrs }) => {
  const { h, w, labels } = inputs;
  const [part] = dispatch(backend, partialsProgram(h, w, labels, attrs.wShape as number[] | undefined));
  const out = dispatch(backend, combineProgram(part));
  (backend as tf.KernelBackend).disposeData(part.dataId);
  return out;
});

defineKernel(LM_HEAD_CE_GRAD, ({ inputs, backend, attrs }) => {
  const { h, w, labels, lse, dy } = inputs;
  const b = backend as tf.KernelBackend;
  const n = h.shape[0];
  const half = attrs.wShape as number[] | undefined;
  const [vocab] = headShape(w, half);
  const vc = chunkColumns(n, vocab, attrs.chunkBytes as number);
  let dh: tf.TensorInfo | null = null;
  for (let v0 = 0; v0 < vocab; v0 += vc) {
    const [g] = dispatch(backend, softmaxGradProgram(h, w, labels, lse, dy, v0, Math.min(vc, vocab - v0), half));
    const [next] = dispatch(backend, headGradProgram(g, w, dh, v0, half));
    b.disposeData(g.dataId);
    if (dh) b.disposeData(dh.dataId);
    dh = next;
    // Without it every chunk's G stays allocated until the batch is submitted: [N, V] again.
    if (v0 + vc < vocab) submit(backend);
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
      h: () => runKernel(LM_HEAD_CE_GRAD, { h, w, labels, lse, dy }, { chunkBytes: attrs.chunkBytes as number, ...(attrs.wShape ? { wShape: attrs.wShape as number[] } : {}) }),
      w: noGradient(LM_HEAD_CE, 'w'),
      labels: noGradient(LM_HEAD_CE, 'labels'),
    };
  },
});

/** The stock composition: full logits, logsumexp, the target logits picked by row. */
function lmHeadCrossEntropyStock(h: tf.Tensor2D, w: tf.Tensor2D, labels: Int32Array): tf.Tensor1D {
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
export function lmHeadCrossEntropy(h: tf.Tensor2D, w: FrozenWeight, labels: Int32Array, opts: { chunkBytes?: number } = {}): tf.Tensor1D {
  const [n, hidden] = h.shape;
  const vocab = w.shape[0];
  if (w.shape[1] !== hidden) throw new Error(`lmHeadCrossEntropy: head ${w.shape} does not match hidden states ${h.shape}`);
  if (labels.length !== n) throw new Error(`lmHeadCrossEntropy: ${labels.length} labels for ${n} rows`);
  const bad = labels.findIndex((l) => !(l >= 0 && l < vocab));
  if (bad >= 0) throw new Error(`lmHeadCrossEntropy: label ${labels[bad]} of row ${bad} is outside the vocabulary [0, ${vocab})`);
  if (isHalf(w)) needsFused('lmHeadCrossEntropy', w);
  else if (!fusedActive()) return lmHeadCrossEntropyStock(h, w as tf.Tensor2D, labels);
  const head: { w: tf.Tensor; attrs: tf.NamedAttrMap } = isHalf(w) ? { w: w.packed, attrs: { wShape: w.shape } } : { w, attrs: {} };
  const [loss] = runKernelMulti(LM_HEAD_CE, { h, w: head.w, labels: tf.tensor1d(labels, 'int32') }, { chunkBytes: opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, ...head.attrs });
  return loss as tf.Tensor1D;
}
