// Fused rotary embedding of q and k, with the [B, T, ·, d] -> [B, ·, T, d] transposes of q, k
// and v folded in: one dispatch forward, one backward (stock: three transposes, and split, neg,
// concat, mul, mul, add for each of q and k, forward).
import { tf } from '../src/engine/tf';
import { fusedActive } from './active';
import { i32, sizeOf, type Program } from './program';
import { dispatch } from './dispatch';
import { defineGradient, defineKernel, noGradient, runKernelMulti } from './register';
import { ropeQkvBackwardWgsl, ropeQkvForwardWgsl } from './rope.wgsl';

export const ROPE_QKV = 'WebLoraRopeQkv';
export const ROPE_QKV_GRAD = 'WebLoraRopeQkvGrad';

const WG = 128;

/** q [B, T, H, d], k and v [B, T, Hk, d] (forward) or the heads-first gradients (backward). */
export function ropeProgram(kind: 'fwd' | 'bwd', q: tf.TensorInfo, k: tf.TensorInfo, v: tf.TensorInfo, cos: tf.TensorInfo, sin: tf.TensorInfo): Program {
  const fwd = kind === 'fwd';
  const [b, s1, s2, d] = q.shape;
  const [seq, heads] = fwd ? [s1, s2] : [s2, s1];
  const kvHeads = fwd ? k.shape[2] : k.shape[1];
  const shape = (h: number) => (fwd ? [b, h, seq, d] : [b, seq, h, d]);
  const sizeQ = sizeOf(q.shape);
  const sizeK = sizeOf(k.shape);
  const n = sizeQ + 2 * sizeK;
  const [oq, ok, ov] = fwd ? ['QR', 'KR', 'VT'] : ['DQ', 'DK', 'DV'];
  return {
    name: `rope_qkv_${kind}`,
    outputs: { [oq]: shape(heads), [ok]: shape(kvHeads), [ov]: shape(kvHeads) },
    inputs: fwd ? { Q: q, K: k, V: v, COS: cos, SIN: sin } : { DQR: q, DKR: k, DVT: v, COS: cos, SIN: sin },
    uniforms: { sizeQ: i32(sizeQ), sizeK: i32(sizeK), seq: i32(seq), heads: i32(heads), kvHeads: i32(kvHeads), dim: i32(d) },
    workgroupSize: [WG, 1, 1],
    dispatch: [Math.ceil(n / WG), 1, 1],
    flat: true,
    code: fwd ? ropeQkvForwardWgsl : ropeQkvBackwardWgsl,
  };
}

defineKernel(ROPE_QKV, ({ inputs, backend }) => dispatch(backend, ropeProgram('fwd', inputs.q, inputs.k, inputs.v, inputs.cos, inputs.sin)));
defineKernel(ROPE_QKV_GRAD, ({ inputs, backend }) => dispatch(backend, ropeProgram('bwd', inputs.dq, inputs.dk, inputs.dv, inputs.cos, inputs.sin)));

defineGradient({
  kernelName: ROPE_QKV,
  inputsToSave: ['cos', 'sin'],
  gradFunc: (dys, saved) => {
    const [dq, dk, dv] = dys as tf.Tensor[];
    const [cos, sin] = saved;
    // One dispatch makes all three, so they are made here rather than in the thunks.
    const [gq, gk, gv] = runKernelMulti(ROPE_QKV_GRAD, { dq, dk, dv, cos, sin });
    return { q: () => gq, k: () => gk, v: () => gv, cos: noGradient(ROPE_QKV, 'cos'), sin: noGradient(ROPE_QKV, 'sin') };
  },
});

/** x·cos + rotate_half(x)·sin for x [B, H, T, d] and cos, sin [B, 1, T, d]. */
function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const half = x.shape[3]! / 2;
  const [x1, x2] = tf.split(x, [half, half], 3);
  return x.mul(cos).add(tf.concat([x2.neg(), x1], 3).mul(sin));
}

interface HeadsFirst {
  q: tf.Tensor4D;
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

/** The stock composition: transpose each to heads-first, then rotate q and k. */
function ropeQkvStock(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor): HeadsFirst {
  const [b, t, , d] = q.shape;
  const c = cos.reshape([b, 1, t, d]);
  const s = sin.reshape([b, 1, t, d]);
  return {
    q: applyRope(q.transpose([0, 2, 1, 3]), c, s) as tf.Tensor4D,
    k: applyRope(k.transpose([0, 2, 1, 3]), c, s) as tf.Tensor4D,
    v: v.transpose([0, 2, 1, 3]) as tf.Tensor4D,
  };
}

/**
 * Rotary embedding of q [B, T, H, d] and k [B, T, Hk, d] with per-token cos/sin ([B, T, d] or
 * [B, 1, T, d]), returned heads-first with v: q [B, H, T, d], k and v [B, Hk, T, d].
 */
export function ropeQkv(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor): HeadsFirst {
  if (!fusedActive()) return ropeQkvStock(q, k, v, cos, sin);
  const [b, t, , d] = q.shape;
  if (d % 2 !== 0) throw new Error(`ropeQkv: head size ${d} is odd`);
  if (!tf.util.arraysEqual(k.shape, v.shape) || k.shape[0] !== b || k.shape[1] !== t || k.shape[3] !== d) {
    throw new Error(`ropeQkv: q ${q.shape}, k ${k.shape}, v ${v.shape} do not fit`);
  }
  if (sizeOf(cos.shape) !== b * t * d || sizeOf(sin.shape) !== b * t * d) throw new Error(`ropeQkv: cos/sin ${cos.shape} do not fit q ${q.shape}`);
  const [qr, kr, vt] = runKernelMulti(ROPE_QKV, { q, k, v, cos: cos.reshape([b, t, d]), sin: sin.reshape([b, t, d]) });
  return { q: qr as tf.Tensor4D, k: kr as tf.Tensor4D, v: vt as tf.Tensor4D };
}
