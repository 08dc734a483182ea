// Fused SwiGLU: silu(gate) · up in one dispatch, and both gradients in one more
// (stock: sigmoid, mul, mul forward; about ten kernels backward).
import { tf } from '../src/engine/tf';
import { gatedActivation } from './gated';
import { swigluForwardWgsl, swigluGradWgsl } from './swiglu.wgsl';

export const SWIGLU = 'WebLoraSwiGlu';
export const SWIGLU_GRAD = 'WebLoraSwiGluGrad';

const kernel = gatedActivation({
  op: 'swiglu',
  kernel: SWIGLU,
  gradKernel: SWIGLU_GRAD,
  forwardWgsl: swigluForwardWgsl,
  gradWgsl: swigluGradWgsl,
  stock: (gate, up) => tf.mul(gate.mul(tf.sigmoid(gate)), up),
});

export const swigluProgram = kernel.program;
export const swigluGradProgram = kernel.gradProgram;

/** silu(gate) · up, for two tensors of one shape. */
export const swiglu = kernel.op;
