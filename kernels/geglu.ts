// Fused GeGLU (Gemma's MLP): gelu_pytorch_tanh(gate) · up in one dispatch, and both gradients in
// one more (stock: about twelve kernels forward, twenty backward).
import { tf } from '../src/engine/tf';
import { gatedActivation } from './gated';
import { gegluForwardWgsl, gegluGradWgsl } from './geglu.wgsl';

export const GEGLU = 'WebLoraGeGlu';
export const GEGLU_GRAD = 'WebLoraGeGluGrad';

const GELU_C = Math.sqrt(2 / Math.PI);

/** ½·g·(1 + tanh(√(2/π)·(g + 0.044715·g³))) · up, as transformers' gelu_pytorch_tanh writes it. */
function gegluStock(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  const inner = gate.add(gate.mul(gate).mul(gate).mul(0.044715)).mul(GELU_C);
  return gate.mul(0.5).mul(tf.tanh(inner).add(1)).mul(up);
}

const kernel = gatedActivation({
  op: 'geglu',
  kernel: GEGLU,
  gradKernel: GEGLU_GRAD,
  forwardWgsl: gegluForwardWgsl,
  gradWgsl: gegluGradWgsl,
  stock: gegluStock,
});

export const gegluProgram = kernel.program;
export const gegluGradProgram = kernel.gradProgram;

/** gelu_pytorch_tanh(gate) · up, for two tensors of one shape. */
export const geglu = kernel.op;
