// Fused RMSNorm: one dispatch forward, one backward (stock: square, mean, add, rsqrt, mul, mul
// forward and about a dozen kernels backward). The residual variant also does the residual add
// before it, forward and backward, in the same single dispatch each way.
import { tf } from '../src/engine/tf';
import { fusedActive } from './active';
import { f32, i32, run, sizeOf } from './program';
import { runMulti } from './multi';
import { defineGradient, defineKernel, noGradient, runKernel, runKernelMulti } from './register';
import { rmsNormBackwardWgsl, rmsNormForwardWgsl } from './rmsnorm.wgsl';

export const RMS_NORM = 'WebLoraRmsNorm';
export const RMS_NORM_GRAD = 'WebLoraRmsNormGrad';
export const ADD_RMS_NORM = 'WebLoraAddRmsNorm';
export const ADD_RMS_NORM_GRAD = 'WebLoraAddRmsNormGrad';

const workgroup = (cols: number) => (cols > 1024 ? 256 : 64);

function spec(kind: 'fwd' | 'bwd' | 'bwd_res', shape: number[]) {
  const cols = shape[shape.length - 1];
  const rows = sizeOf(shape) / cols;
  const wg = workgroup(cols);
  return {
    rows,
    cols,
    spec: {
      key: `rmsnorm_${kind}_${wg}`,
      inputs: kind === 'fwd' ? ['X', 'W'] : kind === 'bwd' ? ['X', 'W', 'DY'] : ['X', 'W', 'DY', 'DS'],
      outputShape: shape,
      workgroupSize: [wg, 1, 1] as [number, number, number],
      dispatch: [rows, 1, 1] as [number, number, number],
      uniforms: 'rows : i32, cols : i32, eps : f32,',
      flat: true,
      code: kind === 'fwd' ? rmsNormForwardWgsl(wg) : rmsNormBackwardWgsl(wg, kind === 'bwd_res'),
    },
  };
}

defineKernel(RMS_NORM, ({ inputs, backend, attrs }) => {
  const { x, w } = inputs;
  const s = spec('fwd', x.shape);
  return run(backend, s.spec, [x, w], [i32(s.rows), i32(s.cols), f32(attrs.eps as number)]);
});

defineKernel(RMS_NORM_GRAD, ({ inputs, backend, attrs }) => {
  const { x, w, dy } = inputs;
  const s = spec('bwd', x.shape);
  return run(backend, s.spec, [x, w, dy], [i32(s.rows), i32(s.cols), f32(attrs.eps as number)]);
});

defineGradient({
  kernelName: RMS_NORM,
  inputsToSave: ['x', 'w'],
  gradFunc: (dy, saved, attrs) => {
    const [x, w] = saved;
    return {
      x: () => runKernel(RMS_NORM_GRAD, { x, w, dy: dy as tf.Tensor }, { eps: attrs.eps as number }),
      w: noGradient(RMS_NORM, 'w'),
    };
  },
});

defineKernel(ADD_RMS_NORM, ({ inputs, backend, attrs }) => {
  const { x, delta, w } = inputs;
  const s = spec('fwd', x.shape);
  const { outputShape, ...rest } = s.spec;
  return runMulti(
    backend,
    {
      ...rest,
      key: `add_rmsnorm_fwd_${workgroup(s.cols)}`,
      inputs: ['X', 'DELTA', 'W'],
      outputs: [
        { name: 'SUM', shape: outputShape },
        { name: 'Y', shape: outputShape },
      ],
      code: rmsNormForwardWgsl(workgroup(s.cols), true),
    },
    [x, delta, w],
    [i32(s.rows), i32(s.cols), f32(attrs.eps as number)],
  );
});

defineKernel(ADD_RMS_NORM_GRAD, ({ inputs, backend, attrs }) => {
  const { sum, w, dy, dsum } = inputs;
  const s = spec('bwd_res', sum.shape);
  return run(backend, s.spec, [sum, w, dy, dsum], [i32(s.rows), i32(s.cols), f32(attrs.eps as number)]);
});

defineGradient({
  kernelName: ADD_RMS_NORM,
  inputsToSave: ['w'],
  outputsToSave: [true, false],
  gradFunc: (dys, saved, attrs) => {
    const [dsum, dy] = dys as tf.Tensor[];
    const [w, sum] = saved;
    // x and delta enter only through their sum: one gradient serves both.
    const dx = runKernel(ADD_RMS_NORM_GRAD, { sum, w, dy, dsum }, { eps: attrs.eps as number });
    return { x: () => dx, delta: () => dx, w: noGradient(ADD_RMS_NORM, 'w') };
  },
});

/** The stock composition (what the model always ran). */
export function rmsNormStock<T extends tf.Tensor>(x: T, w: tf.Tensor, eps: number): T {
  const variance = x.square().mean(-1, true);
  return x.mul(tf.rsqrt(variance.add(eps))).mul(w) as T;
}

/** x · rsqrt(mean(x², last axis) + eps) · w, for x [..., n] and w [n]. */
export function rmsNorm<T extends tf.Tensor>(x: T, w: tf.Tensor, eps: number): T {
  if (!fusedActive()) return rmsNormStock(x, w, eps);
  if (w.rank !== 1 || w.shape[0] !== x.shape[x.rank - 1]) throw new Error(`rmsNorm: weight ${w.shape} does not match the last axis of ${x.shape}`);
  return runKernel(RMS_NORM, { x, w }, { eps }) as T;
}

/**
 * The residual step before a norm: sum = x + delta and normed = rmsNorm(sum, w) — one dispatch
 * each way when fused (stock: add, then the norm's ops).
 */
export function addRmsNorm<T extends tf.Tensor>(x: T, delta: tf.Tensor, w: tf.Tensor, eps: number): { sum: T; normed: T } {
  if (!fusedActive()) {
    const sum = x.add(delta) as T;
    return { sum, normed: rmsNormStock(sum, w, eps) };
  }
  if (!tf.util.arraysEqual(x.shape, delta.shape)) throw new Error(`addRmsNorm: x ${x.shape} and delta ${delta.shape} differ in shape`);
  if (w.rank !== 1 || w.shape[0] !== x.shape[x.rank - 1]) throw new Error(`addRmsNorm: weight ${w.shape} does not match the last axis of ${x.shape}`);
  const [sum, normed] = runKernelMulti(ADD_RMS_NORM, { x, delta, w }, { eps });
  return { sum: sum as T, normed: normed as T };
}
