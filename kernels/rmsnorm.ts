// Fused RMSNorm: one dispatch forward, one backward (stock: square, mean, add, rsqrt, mul, mul
// forward and about a dozen kernels backward). The residual variant also does the residual add
// before it, forward and backward, in the same single dispatch each way.
import { tf } from '../src/engine/tf';
import { fusedActive } from './active';
import { f32, i32, sizeOf, type Program } from './program';
import { dispatch } from './dispatch';
import { defineGradient, defineKernel, noGradient, runKernel, runKernelMulti } from './register';
import { rmsNormBackwardWgsl, rmsNormForwardWgsl } from './rmsnorm.wgsl';

export const RMS_NORM = 'WebLoraRmsNorm';
export const RMS_NORM_GRAD = 'WebLoraRmsNormGrad';
export const ADD_RMS_NORM = 'WebLoraAddRmsNorm';
export const ADD_RMS_NORM_GRAD = 'WebLoraAddRmsNormGrad';

/** One workgroup per row of x [..., cols]; the reads of `inputs` and writes of `outputs` per `code`. */
function rowProgram(name: string, x: tf.TensorInfo, inputs: Program['inputs'], outputs: string[], eps: number, code: (wg: number) => string): Program {
  const cols = x.shape[x.shape.length - 1];
  const rows = sizeOf(x.shape) / cols;
  const wg = cols > 1024 ? 256 : 64;
  return {
    name: `${name}_${wg}`,
    outputs: Object.fromEntries(outputs.map((o) => [o, x.shape])),
    inputs,
    uniforms: { rows: i32(rows), cols: i32(cols), eps: f32(eps) },
    workgroupSize: [wg, 1, 1],
    dispatch: [rows, 1, 1],
    flat: true,
    code: code(wg),
  };
}

export const rmsNormProgram = (x: tf.TensorInfo, w: tf.TensorInfo, eps: number) =>
  rowProgram('rmsnorm_fwd', x, { X: x, W: w }, ['result'], eps, (wg) => rmsNormForwardWgsl(wg));
export const rmsNormGradProgram = (x: tf.TensorInfo, w: tf.TensorInfo, dy: tf.TensorInfo, eps: number) =>
  rowProgram('rmsnorm_bwd', x, { X: x, W: w, DY: dy }, ['result'], eps, (wg) => rmsNormBackwardWgsl(wg));
export const addRmsNormProgram = (x: tf.TensorInfo, delta: tf.TensorInfo, w: tf.TensorInfo, eps: number) =>
  rowProgram('add_rmsnorm_fwd', x, { X: x, DELTA: delta, W: w }, ['SUM', 'Y'], eps, (wg) => rmsNormForwardWgsl(wg, true));
export const addRmsNormGradProgram = (sum: tf.TensorInfo, w: tf.TensorInfo, dy: tf.TensorInfo, dsum: tf.TensorInfo, eps: number) =>
  rowProgram('rmsnorm_bwd_res', sum, { X: sum, W: w, DY: dy, DS: dsum }, ['result'], eps, (wg) => rmsNormBackwardWgsl(wg, true));

defineKernel(RMS_NORM, ({ inputs, backend, attrs }) => dispatch(backend, rmsNormProgram(inputs.x, inputs.w, attrs.eps as number))[0]);
defineKernel(RMS_NORM_GRAD, ({ inputs, backend, attrs }) => dispatch(backend, rmsNormGradProgram(inputs.x, inputs.w, inputs.dy, attrs.eps as number))[0]);
defineKernel(ADD_RMS_NORM, ({ inputs, backend, attrs }) => dispatch(backend, addRmsNormProgram(inputs.x, inputs.delta, inputs.w, attrs.eps as number)));
defineKernel(ADD_RMS_NORM_GRAD, ({ inputs, backend, attrs }) =>
  dispatch(backend, addRmsNormGradProgram(inputs.sum, inputs.w, inputs.dy, inputs.dsum, attrs.eps as number))[0],
);

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

/** The stock composition. */
function rmsNormStock<T extends tf.Tensor>(x: T, w: tf.Tensor, eps: number): T {
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
