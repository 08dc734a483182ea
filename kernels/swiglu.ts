// Fused SwiGLU: silu(gate) · up in one dispatch, and both gradients in one more
// (stock: sigmoid, mul, mul forward; about ten kernels backward).
import { tf } from '../src/engine/tf';
import { fusedActive } from './active';
import { i32, sizeOf, type Program } from './program';
import { dispatch } from './dispatch';
import { defineGradient, defineKernel, runKernel, runKernelMulti } from './register';
import { swigluForwardWgsl, swigluGradWgsl } from './swiglu.wgsl';

export const SWIGLU = 'WebLoraSwiGlu';
export const SWIGLU_GRAD = 'WebLoraSwiGluGrad';

const WG = 128;

/** One lane per element of `gate`. */
function elementwise(name: string, inputs: Program['inputs'], outputs: string[], code: string): Program {
  const shape = inputs.G.shape;
  const n = sizeOf(shape);
  return {
    name,
    outputs: Object.fromEntries(outputs.map((o) => [o, shape])),
    inputs,
    uniforms: { size: i32(n) },
    workgroupSize: [WG, 1, 1],
    dispatch: [Math.ceil(n / WG), 1, 1],
    flat: true,
    code,
  };
}

export const swigluProgram = (gate: tf.TensorInfo, up: tf.TensorInfo) => elementwise('swiglu_fwd', { G: gate, U: up }, ['result'], swigluForwardWgsl);
export const swigluGradProgram = (gate: tf.TensorInfo, up: tf.TensorInfo, dy: tf.TensorInfo) =>
  elementwise('swiglu_grad', { G: gate, U: up, DY: dy }, ['DG', 'DU'], swigluGradWgsl);

defineKernel(SWIGLU, ({ inputs, backend }) => dispatch(backend, swigluProgram(inputs.gate, inputs.up))[0]);
defineKernel(SWIGLU_GRAD, ({ inputs, backend }) => dispatch(backend, swigluGradProgram(inputs.gate, inputs.up, inputs.dy)));

defineGradient({
  kernelName: SWIGLU,
  inputsToSave: ['gate', 'up'],
  gradFunc: (dy, saved) => {
    const [gate, up] = saved;
    // One dispatch makes both, so they are made here rather than in the thunks.
    const [dg, du] = runKernelMulti(SWIGLU_GRAD, { gate, up, dy: dy as tf.Tensor });
    return { gate: () => dg, up: () => du };
  },
});

function swigluStock<T extends tf.Tensor>(gate: T, up: T): T {
  return tf.mul(gate.mul(tf.sigmoid(gate)), up) as T;
}

/** silu(gate) · up, for two tensors of one shape. */
export function swiglu<T extends tf.Tensor>(gate: T, up: T): T {
  if (!fusedActive()) return swigluStock(gate, up);
  if (!tf.util.arraysEqual(gate.shape, up.shape)) throw new Error(`swiglu: gate ${gate.shape} and up ${up.shape} differ in shape`);
  return runKernel(SWIGLU, { gate, up }) as T;
}
