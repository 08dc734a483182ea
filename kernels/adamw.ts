// Fused optimizer step for the LoRA variables: Σ g² over all gradients in ⌈n / 6⌉ dispatches,
// then one dispatch per variable that clips its gradient by the global norm and applies AdamW to
// p, m and v together. About 1 + 1/6 dispatches per variable instead of ~16 (see adamw.wgsl.ts).
// Numerically the stock `clipByGlobalNorm` + `AdamW.apply` of src/engine/train/optimizer.ts.
import { tf } from '../src/engine/tf';
import { f32, i32, run, sizeOf } from './program';
import { runMulti } from './multi';
import { defineKernel, runKernel, runKernelMulti } from './register';
import { adamwWgsl, sumSquaresWgsl } from './adamw.wgsl';

export const SUM_SQUARES = 'WebLoraSumSquares';
export const ADAMW = 'WebLoraAdamW';

/** Gradients per Σ g² dispatch: with the running total and the output, 8 storage buffers. */
const PER_DISPATCH = 6;
const WG = 256;

defineKernel(SUM_SQUARES, ({ inputs, backend }) => {
  const names = Object.keys(inputs).filter((k) => k.startsWith('g')).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  const grads = names.map((k) => inputs[k]);
  const acc = inputs.acc;
  return run(
    backend,
    {
      key: `sum_squares_${grads.length}${acc ? '_acc' : ''}`,
      inputs: [...grads.map((_, k) => `G${k}`), ...(acc ? ['ACC'] : [])],
      outputShape: [1],
      workgroupSize: [WG, 1, 1],
      dispatch: [1, 1, 1],
      flat: true,
      uniforms: grads.map((_, k) => `n${k} : i32,`).join(' '),
      code: sumSquaresWgsl(grads.length, !!acc, WG),
    },
    [...grads, ...(acc ? [acc] : [])],
    grads.map((g) => i32(sizeOf(g.shape))),
  );
});

defineKernel(ADAMW, ({ inputs, backend, attrs }) => {
  const { p, m, v, g, normSq } = inputs;
  const size = sizeOf(p.shape);
  const a = (k: string) => attrs[k] as number;
  return runMulti(
    backend,
    {
      key: 'adamw',
      inputs: ['P0', 'M0', 'V0', 'G', 'NORMSQ'],
      outputs: [
        { name: 'P', shape: p.shape },
        { name: 'M', shape: p.shape },
        { name: 'V', shape: p.shape },
      ],
      workgroupSize: [WG, 1, 1],
      dispatch: [Math.ceil(size / WG), 1, 1],
      flat: true,
      uniforms: 'size : i32, beta1 : f32, beta2 : f32, eps : f32, decay : f32, stepSize : f32, sqrtBc2 : f32, maxNorm : f32,',
      code: adamwWgsl,
    },
    [p, m, v, g, normSq],
    [i32(size), f32(a('beta1')), f32(a('beta2')), f32(a('eps')), f32(a('decay')), f32(a('stepSize')), f32(a('sqrtBc2')), f32(a('maxNorm'))],
  );
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
