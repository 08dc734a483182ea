// Fused causal GQA attention (kernels/attention.wgsl.ts): one dispatch forward, reading Q, K,
// V and the key padding mask and writing the context straight into o_proj's [B, T, H·D]
// layout; three dispatches backward (row statistics, dQ, dK with dV). No [T, S] scores, bias or
// probabilities ever reach memory.
// (Stock: matMul, mul, tile, add, softmax, matMul, transpose, plus the [B, 1, T, S] bias it
// builds from the mask, and about twenty kernels backward.)
import { tf } from '../src/engine/tf';
import { fusedActive } from './active';
import { f32, i32, type Program } from './program';
import { dispatch } from './dispatch';
import { defineGradient, defineKernel, noGradient, runKernel, runKernelMulti } from './register';
import { attentionForwardWgsl, attentionGradKVWgsl, attentionGradQWgsl, attentionLanes, attentionStatsWgsl, type AttentionShape } from './attention.wgsl';

export const ATTENTION = 'WebLoraAttention';
export const ATTENTION_STATS = 'WebLoraAttentionStats';
export const ATTENTION_GRAD_Q = 'WebLoraAttentionGradQ';
export const ATTENTION_GRAD_KV = 'WebLoraAttentionGradKV';

type Kind = 'fwd' | 'stats' | 'dq' | 'dkv';
const CODE: Record<Kind, (sh: AttentionShape) => string> = {
  fwd: attentionForwardWgsl,
  stats: attentionStatsWgsl,
  dq: attentionGradQWgsl,
  dkv: attentionGradKVWgsl,
};

/** The scale of q·kᵀ and the sliding window (Infinity: none), as the kernels' attributes. */
interface ScoreOptions {
  scale: number;
  window?: number;
}

const scoreOptions = (attrs: tf.NamedAttrMap): ScoreOptions => ({ scale: attrs.scale as number, window: attrs.window as number });

/**
 * q [B, H, T, D], k [B, Hk, S, D]; one lane per query row (a key row for dK/dV), W rows to a
 * workgroup.
 */
export function attentionProgram(kind: Kind, inputs: Program['inputs'] & { Q: tf.TensorInfo; K: tf.TensorInfo }, outputs: Program['outputs'], { scale, window = Infinity }: ScoreOptions): Program {
  const [b, heads, seq, d] = inputs.Q.shape;
  const [, kvHeads, keys] = inputs.K.shape;
  const sh = { d, w: attentionLanes(d) };
  return {
    name: `attn_${kind}_${sh.d}_${sh.w}`,
    outputs,
    inputs,
    uniforms: { heads: i32(heads), kvHeads: i32(kvHeads), seq: i32(seq), keys: i32(keys), past: i32(keys - seq), window: i32(Math.min(window, keys)), scale: f32(scale) },
    workgroupSize: [sh.w, 1, 1],
    dispatch: kind === 'dkv' ? [Math.ceil(keys / sh.w), kvHeads, b] : [Math.ceil(seq / sh.w), heads, b],
    flat: false,
    code: CODE[kind](sh),
  };
}

defineKernel(ATTENTION, ({ inputs, backend, attrs }) => {
  const { q, k, v, mask } = inputs;
  const [b, heads, seq, d] = q.shape;
  return dispatch(backend, attentionProgram('fwd', { Q: q, K: k, V: v, MASK: mask }, { result: [b, seq, heads * d] }, scoreOptions(attrs)))[0];
});

defineKernel(ATTENTION_STATS, ({ inputs, backend, attrs }) => {
  const { q, k, mask, o, dy } = inputs;
  const [b, heads, seq] = q.shape;
  return dispatch(backend, attentionProgram('stats', { Q: q, K: k, MASK: mask, O: o, DO: dy }, { result: [b, heads, seq, 2] }, scoreOptions(attrs)))[0];
});

defineKernel(ATTENTION_GRAD_Q, ({ inputs, backend, attrs }) => {
  const { q, k, v, mask, dy, stats } = inputs;
  return dispatch(backend, attentionProgram('dq', { Q: q, K: k, V: v, MASK: mask, DO: dy, STATS: stats }, { result: q.shape }, scoreOptions(attrs)))[0];
});

defineKernel(ATTENTION_GRAD_KV, ({ inputs, backend, attrs }) => {
  const { q, k, v, mask, dy, stats } = inputs;
  return dispatch(backend, attentionProgram('dkv', { Q: q, K: k, V: v, MASK: mask, DO: dy, STATS: stats }, { DK: k.shape, DV: k.shape }, scoreOptions(attrs)));
});

defineGradient({
  kernelName: ATTENTION,
  inputsToSave: ['q', 'k', 'v', 'mask'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [q, k, v, mask, o] = saved;
    const g = dy as tf.Tensor;
    // The backward kernels take the forward's scale and window.
    const opts = { scale: attrs.scale, window: attrs.window };
    // Made here, not in the thunks: stats feed all three gradients and dK, dV come from one
    // dispatch. They live until the gradient pass ends.
    const stats = runKernel(ATTENTION_STATS, { q, k, mask, o, dy: g }, opts);
    const [dk, dv] = runKernelMulti(ATTENTION_GRAD_KV, { q, k, v, mask, dy: g, stats }, opts);
    return {
      q: () => runKernel(ATTENTION_GRAD_Q, { q, k, v, mask, dy: g, stats }, opts),
      k: () => dk,
      v: () => dv,
      mask: noGradient(ATTENTION, 'mask'),
    };
  },
});

// Finite rather than -Infinity: a row with every key masked (left padding) gets a uniform
// softmax instead of NaN.
const MASKED = -1e9;

/**
 * Additive bias [B, 1, T, S]: 0 where query t (at position past + t) may see key j, −1e9
 * elsewhere; with a window W only the keys j > past + t − W (HF's sliding-window mask).
 */
function attentionBias(mask: tf.Tensor2D, seq: number, pastLen: number, window: number): tf.Tensor4D {
  const total = pastLen + seq;
  const rows = tf.range(pastLen, total, 1, 'int32').reshape([seq, 1]);
  const cols = tf.range(0, total, 1, 'int32').reshape([1, total]);
  let visible = tf.lessEqual(cols, rows);
  if (window < total) visible = tf.logicalAnd(visible, tf.greater(cols, rows.sub(window)));
  const causal = visible.reshape([1, 1, seq, total]);
  const keyReal = tf.cast(mask, 'bool').reshape([mask.shape[0], 1, 1, total]);
  const allowed = tf.logicalAnd(causal, keyReal);
  return tf.where(allowed, tf.zerosLike(allowed).toFloat(), tf.fill(allowed.shape, MASKED)) as tf.Tensor4D;
}

// A forward passes the same mask to every layer: the stock bias is built once per mask and
// window (Gemma's layers use two), and rebuilt should the tensor it was built in have been
// disposed by an enclosing tidy.
const biases = new WeakMap<tf.Tensor2D, Map<string, tf.Tensor4D>>();

function biasFor(mask: tf.Tensor2D, seq: number, window: number): tf.Tensor4D {
  const key = `${seq}:${window}`;
  let byShape = biases.get(mask);
  const hit = byShape?.get(key);
  if (hit && !hit.isDisposed) return hit;
  const bias = attentionBias(mask, seq, mask.shape[1] - seq, window);
  if (!byShape) biases.set(mask, (byShape = new Map()));
  byShape.set(key, bias);
  return bias;
}

/** The stock composition: GQA by stacking each KV head's query heads along the rows. */
function causalAttentionStock(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D, window: number, scale: number): tf.Tensor3D {
  const [batch, heads, seq, d] = q.shape;
  const kvHeads = k.shape[1];
  const groups = heads / kvHeads;
  const b = biasFor(mask, seq, window);
  const qg = q.reshape([batch, kvHeads, groups * seq, d]);
  const scores = tf.matMul(qg, k, false, true).mul(scale);
  const groupBias = groups === 1 ? b : tf.tile(b, [1, 1, groups, 1]);
  const probs = tf.softmax(scores.add(groupBias));
  return tf
    .matMul(probs, v)
    .reshape([batch, heads, seq, d])
    .transpose([0, 2, 1, 3])
    .reshape([batch, seq, heads * d]) as tf.Tensor3D;
}

export interface AttentionOptions {
  /**
   * Sliding window: the query at position i sees the keys j with i − window < j ≤ i (Gemma 3's
   * sliding_attention layers, as transformers masks them). Positions count from the start of the
   * KV cache, so query row t is at past + t. Default: no window (every earlier key).
   */
  window?: number;
  /** Score scale; default 1/√D (Gemma 3: 1/√query_pre_attn_scalar). */
  scale?: number;
}

/**
 * Causal softmax(q·kᵀ·scale + mask)·v for q [B, H, T, D] and k, v [B, Hk, S, D] (S = past + T,
 * H a multiple of Hk; query head h reads KV head h / (H / Hk)); `mask` [B, S] is 1 for real
 * keys, 0 for padding. Returns the context in o_proj's layout, [B, T, H·D].
 */
export function causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D, opts: AttentionOptions = {}): tf.Tensor3D {
  const [b, heads, seq, d] = q.shape;
  const window = opts.window ?? Infinity;
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  if (!(window >= 1) || (Number.isFinite(window) && !Number.isInteger(window))) throw new Error(`causalAttention: window ${opts.window} is not a positive integer`);
  if (!Number.isFinite(scale)) throw new Error(`causalAttention: scale ${opts.scale} is not finite`);
  if (!fusedActive()) return causalAttentionStock(q, k, v, mask, window, scale);
  const [bk, kvHeads, keys, dk] = k.shape;
  if (bk !== b || dk !== d || heads % kvHeads !== 0 || keys < seq || !tf.util.arraysEqual(k.shape, v.shape)) {
    throw new Error(`causalAttention: q ${q.shape}, k ${k.shape}, v ${v.shape} do not fit`);
  }
  if (!tf.util.arraysEqual(mask.shape, [b, keys])) throw new Error(`causalAttention: mask ${mask.shape} is not [${b}, ${keys}]`);
  const m = mask.dtype === 'int32' ? mask : mask.toInt();
  const ctx = runKernel(ATTENTION, { q, k, v, mask: m }, { scale, window }) as tf.Tensor3D;
  if (m !== mask) m.dispose();
  return ctx;
}
