// Fused optimizer step for the LoRA variables: Σ g² over all gradients in ⌈n / 6⌉ dispatches,
// then one dispatch per variable that clips its gradient by the global norm and applies AdamW to
// p, m and v together. About 1 + 1/6 dispatches per variable instead of ~16 (see adamw.wgsl.ts).
// Numerically the stock `clipByGlobalNorm` + `AdamW.apply` of src/engine/train/optimizer.ts.
import { tf } from '../src/engine/tf';
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
export function sumOfSquares(grads: tf.Tensor[]): tf.Tensor1D {
  let acc: tf.Tensor | null = null;
  for (let i = 0; i < grads.length; i += PER_DISPATCH) {
    const inputs: Record<string, tf.Tensor> = {};
    grads.slice(i, i + PER_DISPATCH).forEach((g, k) => (inputs[`g${k}`] = g));
    if (acc) inputs.acc = acc;
    acc = runKernel(SUM_SQUARES, inputs);
  }
  return (acc ?? tf.zeros([1])) as tf.Tensor1D;
}

export interface AdamWStep {
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

/** New p, m and v for one variable; `normSq` is the [1] Σ g² of all gradients. */
export function adamwUpdate(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, normSq: tf.Tensor, step: AdamWStep): { p: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  const [np, nm, nv] = runKernelMulti(ADAMW, { p, m, v, g, normSq }, { ...step });
  return { p: np, m: nm, v: nv };
}
