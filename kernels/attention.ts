// Fused causal GQA attention (kernels/attention.wgsl.ts): one dispatch forward, reading Q, K,
// V and the key padding mask and writing the context straight into o_proj's [B, T, H·D]
// layout; three dispatches backward (row statistics, dQ, dK with dV). No [T, S] scores, bias or
// probabilities ever reach memory.
// (Stock: matMul, mul, tile, add, softmax, matMul, transpose, plus the bias construction
// forward, and about twenty kernels backward.)
import { tf } from '../src/engine/tf';
import { fusedActive } from './active';
import { f32, i32, run, type ProgramSpec, type Uniform } from './program';
import { runMulti } from './multi';
import { defineGradient, defineKernel, noGradient, runKernel, runKernelMulti } from './register';
import {
  attentionForwardWgsl,
  attentionGradKVWgsl,
  attentionGradQWgsl,
  attentionLanes,
  attentionStatsWgsl,
  type AttentionShape,
} from './attention.wgsl';

export const ATTENTION = 'WebLoraAttention';
export const ATTENTION_STATS = 'WebLoraAttentionStats';
export const ATTENTION_GRAD_Q = 'WebLoraAttentionGradQ';
export const ATTENTION_GRAD_KV = 'WebLoraAttentionGradKV';

interface Dims {
  b: number;
  heads: number;
  kvHeads: number;
  seq: number;
  keys: number;
  d: number;
}

function dimsOf(q: tf.TensorInfo, k: tf.TensorInfo): Dims {
  const [b, heads, seq, d] = q.shape;
  const [, kvHeads, keys] = k.shape;
  return { b, heads, kvHeads, seq, keys, d };
}

function spec(kind: string, code: (sh: AttentionShape) => string, dm: Dims, rowsPerLaunch: 'queries' | 'keys', names: string[], outputShape: number[]): ProgramSpec {
  const sh = { d: dm.d, w: attentionLanes(dm.d) };
  return {
    key: `attn_${kind}_${sh.d}_${sh.w}`,
    inputs: names,
    outputShape,
    workgroupSize: [sh.w, 1, 1],
    dispatch:
      rowsPerLaunch === 'queries' ? [Math.ceil(dm.seq / sh.w), dm.heads, dm.b] : [Math.ceil(dm.keys / sh.w), dm.kvHeads, dm.b],
    flat: false,
    uniforms: 'heads : i32, kvHeads : i32, seq : i32, keys : i32, past : i32, scale : f32,',
    code: code(sh),
  };
}

function uniforms(dm: Dims, scale: number): Uniform[] {
  return [i32(dm.heads), i32(dm.kvHeads), i32(dm.seq), i32(dm.keys), i32(dm.keys - dm.seq), f32(scale)];
}

function program(
  backend: object,
  kind: string,
  code: (sh: AttentionShape) => string,
  dm: Dims,
  names: string[],
  inputs: tf.TensorInfo[],
  outputShape: number[],
  scale: number,
): tf.TensorInfo {
  return run(backend, spec(kind, code, dm, 'queries', names, outputShape), inputs, uniforms(dm, scale));
}

defineKernel(ATTENTION, ({ inputs, backend, attrs }) => {
  const { q, k, v, mask } = inputs;
  const dm = dimsOf(q, k);
  return program(backend, 'fwd', attentionForwardWgsl, dm, ['Q', 'K', 'V', 'MASK'], [q, k, v, mask], [dm.b, dm.seq, dm.heads * dm.d], attrs.scale as number);
});

defineKernel(ATTENTION_STATS, ({ inputs, backend, attrs }) => {
  const { q, k, mask, o, dy } = inputs;
  const dm = dimsOf(q, k);
  return program(backend, 'stats', attentionStatsWgsl, dm, ['Q', 'K', 'MASK', 'O', 'DO'], [q, k, mask, o, dy], [dm.b, dm.heads, dm.seq, 2], attrs.scale as number);
});

defineKernel(ATTENTION_GRAD_Q, ({ inputs, backend, attrs }) => {
  const { q, k, v, mask, dy, stats } = inputs;
  const dm = dimsOf(q, k);
  return program(backend, 'dq', attentionGradQWgsl, dm, ['Q', 'K', 'V', 'MASK', 'DO', 'STATS'], [q, k, v, mask, dy, stats], q.shape, attrs.scale as number);
});

defineKernel(ATTENTION_GRAD_KV, ({ inputs, backend, attrs }) => {
  const { q, k, v, mask, dy, stats } = inputs;
  const dm = dimsOf(q, k);
  const { outputShape, ...rest } = spec('dkv', attentionGradKVWgsl, dm, 'keys', ['Q', 'K', 'V', 'MASK', 'DO', 'STATS'], k.shape);
  const outputs = [
    { name: 'DK', shape: outputShape },
    { name: 'DV', shape: outputShape },
  ];
  return runMulti(backend, { ...rest, outputs }, [q, k, v, mask, dy, stats], uniforms(dm, attrs.scale as number));
});

defineGradient({
  kernelName: ATTENTION,
  inputsToSave: ['q', 'k', 'v', 'mask'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [q, k, v, mask, o] = saved;
    const g = dy as tf.Tensor;
    const scale = attrs.scale as number;
    // Made here, not in the thunks: stats feed all three gradients and dK, dV come from one
    // dispatch. They live until the gradient pass ends.
    const stats = runKernel(ATTENTION_STATS, { q, k, mask, o, dy: g }, { scale });
    const [dk, dv] = runKernelMulti(ATTENTION_GRAD_KV, { q, k, v, mask, dy: g, stats }, { scale });
    return {
      q: () => runKernel(ATTENTION_GRAD_Q, { q, k, v, mask, dy: g, stats }, { scale }),
      k: () => dk,
      v: () => dv,
      mask: noGradient(ATTENTION, 'mask'),
    };
  },
});

// Finite rather than -Infinity, as in llama.ts: a row with every key masked stays NaN-free.
const MASKED = -1e9;

/** Additive bias [B, 1, T, S]: 0 where query t may see key j, −1e9 elsewhere (as llama.ts builds it). */
export function attentionBias(mask: tf.Tensor2D, seq: number, pastLen: number): tf.Tensor4D {
  const total = pastLen + seq;
  const rows = tf.range(pastLen, total, 1, 'int32').reshape([seq, 1]);
  const cols = tf.range(0, total, 1, 'int32').reshape([1, total]);
  const causal = tf.lessEqual(cols, rows).reshape([1, 1, seq, total]);
  const keyReal = tf.cast(mask, 'bool').reshape([mask.shape[0], 1, 1, total]);
  const allowed = tf.logicalAnd(causal, keyReal);
  return tf.where(allowed, tf.zerosLike(allowed).toFloat(), tf.fill(allowed.shape, MASKED)) as tf.Tensor4D;
}

export interface AttentionInputs {
  /** [B, S] key padding mask, 1 for real tokens (S = past + T). */
  mask: tf.Tensor2D;
  /** The stock path's additive bias [B, 1, T, S], when the caller has it already. */
  bias?: tf.Tensor4D | null;
}

/** The stock composition: GQA by stacking each KV head's query heads along the rows. */
export function causalAttentionStock(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, { mask, bias }: AttentionInputs): tf.Tensor3D {
  const [batch, heads, seq, d] = q.shape;
  const kvHeads = k.shape[1];
  const groups = heads / kvHeads;
  const b = bias ?? attentionBias(mask, seq, k.shape[2] - seq);
  const qg = q.reshape([batch, kvHeads, groups * seq, d]);
  const scores = tf.matMul(qg, k, false, true).mul(1 / Math.sqrt(d));
  const groupBias = groups === 1 ? b : tf.tile(b, [1, 1, groups, 1]);
  const probs = tf.softmax(scores.add(groupBias));
  return tf
    .matMul(probs, v)
    .reshape([batch, heads, seq, d])
    .transpose([0, 2, 1, 3])
    .reshape([batch, seq, heads * d]) as tf.Tensor3D;
}

/**
 * Causal softmax(q·kᵀ/√d + mask)·v for q [B, H, T, D] and k, v [B, Hk, S, D] (S = past + T,
 * H a multiple of Hk; query head h reads KV head h / (H / Hk)). Returns the context in o_proj's
 * layout, [B, T, H·D].
 */
export function causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, inputs: AttentionInputs): tf.Tensor3D {
  if (!fusedActive()) return causalAttentionStock(q, k, v, inputs);
  const [b, heads, seq, d] = q.shape;
  const [bk, kvHeads, keys, dk] = k.shape;
  if (bk !== b || dk !== d || heads % kvHeads !== 0 || keys < seq || !tf.util.arraysEqual(k.shape, v.shape)) {
    throw new Error(`causalAttention: q ${q.shape}, k ${k.shape}, v ${v.shape} do not fit`);
  }
  if (!tf.util.arraysEqual(inputs.mask.shape, [b, keys])) throw new Error(`causalAttention: mask ${inputs.mask.shape} is not [${b}, ${keys}]`);
  const mask = inputs.mask.dtype === 'int32' ? inputs.mask : inputs.mask.toInt();
  const ctx = runKernel(ATTENTION, { q, k, v, mask }, { scale: 1 / Math.sqrt(d) }) as tf.Tensor3D;
  if (mask !== inputs.mask) mask.dispose();
  return ctx;
}
