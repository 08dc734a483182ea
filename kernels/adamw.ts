// The optimizer step of the LoRA variables as an op: clipping by the global gradient norm, then
// PyTorch's AdamW. Fused: Σ g² over all gradients in ⌈n / 6⌉ dispatches, then one dispatch per
// variable that clips its gradient and updates p, m and v together — about 1 + 1/6 dispatches
// per variable instead of ~16 (see adamw.wgsl.ts). Stock: `clipByGlobalNorm` and `adamwStock`.
// src/engine/train/optimizer.ts keeps the state and the step count and calls `clippedAdamw`.
import { tf } from '../src/engine/tf';
import { fusedActive } from './active';
import { f32, i32, sizeOf, type Program } from './program';
import { dispatch } from './dispatch';
import { defineKernel, runKernel, runKernelMulti } from './register';
import { adamwWgsl, sumSquaresWgsl } from './adamw.wgsl';

export const SUM_SQUARES = 'WebLoraSumSquares';
export const ADAMW = 'WebLoraAdamW';

/** Gradients per Σ g² dispatch: with the running total and the output, 8 storage buffers. */
const PER_DISPATCH = 6;
const WG = 256;

/** result[0] = [ACC[0] +] Σ_k Σ G_k². */
export function sumSquaresProgram(grads: tf.TensorInfo[], acc?: tf.TensorInfo): Program {
  return {
    name: `sum_squares_${grads.length}${acc ? '_acc' : ''}`,
    outputs: { result: [1] },
    inputs: { ...Object.fromEntries(grads.map((g, k) => [`G${k}`, g])), ...(acc ? { ACC: acc } : {}) },
    uniforms: Object.fromEntries(grads.map((g, k) => [`n${k}`, i32(sizeOf(g.shape))])),
    workgroupSize: [WG, 1, 1],
    dispatch: [1, 1, 1],
    flat: true,
    code: sumSquaresWgsl(grads.length, !!acc, WG),
  };
}

export function adamwProgram(p: tf.TensorInfo, m: tf.TensorInfo, v: tf.TensorInfo, g: tf.TensorInfo, normSq: tf.TensorInfo, step: AdamWStep): Program {
  const size = sizeOf(p.shape);
  return {
    name: 'adamw',
    outputs: { P: p.shape, M: p.shape, V: p.shape },
    inputs: { P0: p, M0: m, V0: v, G: g, NORMSQ: normSq },
    uniforms: {
      size: i32(size),
      beta1: f32(step.beta1),
      beta2: f32(step.beta2),
      eps: f32(step.eps),
      decay: f32(step.decay),
      stepSize: f32(step.stepSize),
      sqrtBc2: f32(step.sqrtBc2),
      maxNorm: f32(step.maxNorm),
    },
    workgroupSize: [WG, 1, 1],
    dispatch: [Math.ceil(size / WG), 1, 1],
    flat: true,
    code: adamwWgsl,
  };
}

defineKernel(SUM_SQUARES, ({ inputs, backend }) => {
  const names = Object.keys(inputs).filter((k) => k.startsWith('g')).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  return dispatch(backend, sumSquaresProgram(names.map((k) => inputs[k]), inputs.acc))[0];
});

defineKernel(ADAMW, ({ inputs, backend, attrs }) => {
  const { p, m, v, g, normSq } = inputs;
  return dispatch(backend, adamwProgram(p, m, v, g, normSq, attrs as unknown as AdamWStep));
});

/** Σ over every gradient of Σ g², as a [1] tensor. */
function sumOfSquares(grads: tf.Tensor[]): tf.Tensor1D {
  let acc: tf.Tensor | null = null;
  for (let i = 0; i < grads.length; i += PER_DISPATCH) {
    const inputs: Record<string, tf.Tensor> = {};
    grads.slice(i, i + PER_DISPATCH).forEach((g, k) => (inputs[`g${k}`] = g));
    if (acc) inputs.acc = acc;
    acc = runKernel(SUM_SQUARES, inputs);
  }
  return (acc ?? tf.zeros([1])) as tf.Tensor1D;
}

/** What the fused kernel reads of one step. */
interface AdamWStep {
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 − lr · weight decay. */
  decay: number;
  /** lr / (1 − β1^t). */
  stepSize: number;
  /** √(1 − β2^t). */
  sqrtBc2: number;
  /** Clip to this global norm; ≤ 0: no clipping. */
  maxNorm: number;
}

/** One variable and its two moments. */
export interface AdamWSlot {
  p: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
}

/** One step's hyperparameters, with the bias corrections folded as PyTorch does. */
export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** lr / (1 − β1^t). */
  stepSize: number;
  /** √(1 − β2^t). */
  sqrtBc2: number;
  /** Clip to this global norm; ≤ 0: no clipping. */
  maxNorm: number;
}

/**
 * Σ g² over every gradient, as a [1] tensor: what clipping reads, and what the trainer checks
 * for NaN/inf before letting a step change the adapter.
 */
export function globalNormSquared(grads: tf.Tensor[]): tf.Tensor1D {
  // tidy: the running totals between dispatches are intermediates.
  return fusedActive() ? tf.tidy(() => sumOfSquares(grads)) : stockNormSquared(grads);
}

function stockNormSquared(grads: tf.Tensor[]): tf.Tensor1D {
  // A chain of adds, not addN: WebGPU binds every addN input as its own storage buffer and
  // an adapter may allow only 8 per shader stage (SwiftShader does), far fewer than 2 × layers.
  return tf.tidy(() => grads.map((g) => g.square().sum()).reduce((a, b) => a.add(b)).reshape([1]) as tf.Tensor1D);
}

/**
 * Clips the gradients to a global L2 norm of `maxNorm`, applies one AdamW step to every slot
 * and returns the norm before clipping. `normSq`: Σ g² already computed (globalNormSquared).
 */
export function clippedAdamw(slots: AdamWSlot[], grads: tf.Tensor[], h: AdamWHyper, normSq?: tf.Tensor): tf.Scalar {
  if (!fusedActive()) {
    return tf.tidy(() => {
      const { grads: clipped, norm } = clipByGlobalNorm(grads, h.maxNorm, normSq ? (normSq.sqrt().reshape([]) as tf.Scalar) : undefined);
      adamwStock(slots, clipped, h);
      return norm;
    });
  }
  const { beta1, beta2, eps, stepSize, sqrtBc2 } = h;
  const step: AdamWStep = { beta1, beta2, eps, decay: 1 - h.lr * h.weightDecay, stepSize, sqrtBc2, maxNorm: h.maxNorm > 0 ? h.maxNorm : 0 };
  return tf.tidy(() => {
    const sq = normSq ?? sumOfSquares(grads);
    slots.forEach((s, i) => {
      const [p, m, v] = runKernelMulti(ADAMW, { p: s.p, m: s.m, v: s.v, g: grads[i], normSq: sq }, { ...step });
      s.p.assign(p);
      s.m.assign(m);
      s.v.assign(v);
    });
    return sq.sqrt().reshape([]) as tf.Scalar;
  });
}

/** AdamW without clipping, as stock TF.js ops (decoupled decay applied first). */
export function adamwStock(slots: AdamWSlot[], grads: tf.Tensor[], h: AdamWHyper): void {
  const { lr, beta1, beta2, eps, weightDecay, stepSize, sqrtBc2 } = h;
  tf.tidy(() => {
    slots.forEach(({ p, m: m0, v: v0 }, i) => {
      const g = grads[i];
      const m = m0.mul(beta1).add(g.mul(1 - beta1));
      const v = v0.mul(beta2).add(g.square().mul(1 - beta2));
      m0.assign(m);
      v0.assign(v);
      const decayed = weightDecay ? p.mul(1 - lr * weightDecay) : p;
      const denom = v.sqrt().div(sqrtBc2).add(eps);
      p.assign(decayed.sub(m.div(denom).mul(stepSize)));
    });
  });
}

/**
 * Scales gradients so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_,
 * including its 1e-6 in the denominator). Returns the clipped gradients and the norm before.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number, norm = stockNormSquared(grads).sqrt().reshape([]) as tf.Scalar): { grads: tf.Tensor[]; norm: tf.Scalar } {
  if (!(maxNorm > 0)) return { grads, norm };
  const coef = tf.minimum(tf.scalar(maxNorm).div(norm.add(1e-6)), 1);
  return { grads: grads.map((g) => g.mul(coef)), norm };
}
