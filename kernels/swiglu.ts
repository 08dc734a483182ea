// Fused SwiGLU: silu(gate) · up in one dispatch, and both gradients in one more
// (stock: sigmoid, mul, mul forward; about ten kernels backward).
import { tf } from '../src/engine/tf';
import { fusedActive } from './active';
import { i32, run, sizeOf } from './program';
import { runMulti } from './multi';
import { defineGradient, defineKernel, runKernel, runKernelMulti } from './register';
import { swigluForwardWgsl, swigluGradWgsl } from './swiglu.wgsl';

export const SWIGLU = 'WebLoraSwiGlu';
export const SWIGLU_GRAD = 'WebLoraSwiGluGrad';

const WG = 128;

function elementwise(key: string, inputs: string[], code: string, backend: object, tensors: tf.TensorInfo[]): tf.TensorInfo {
  const shape = tensors[0].shape;
  const n = sizeOf(shape);
  return run(
    backend,
    { key, inputs, outputShape: shape, workgroupSize: [WG, 1, 1], dispatch: [Math.ceil(n / WG), 1, 1], flat: true, uniforms: 'size : i32,', code },
    tensors,
    [i32(n)],
  );
}

defineKernel(SWIGLU, ({ inputs, backend }) => elementwise('swiglu_fwd', ['G', 'U'], swigluForwardWgsl, backend, [inputs.gate, inputs.up]));
defineKernel(SWIGLU_GRAD, ({ inputs, backend }) => {
  const shape = inputs.gate.shape;
  const n = sizeOf(shape);
  return runMulti(
    backend,
    {
      key: 'swiglu_grad',
      inputs: ['G', 'U', 'DY'],
      outputs: [
        { name: 'DG', shape },
        { name: 'DU', shape },
      ],
      workgroupSize: [WG, 1, 1],
      dispatch: [Math.ceil(n / WG), 1, 1],
      flat: true,
      uniforms: 'size : i32,',
      code: swigluGradWgsl,
    },
    [inputs.gate, inputs.up, inputs.dy],
    [i32(n)],
  );
});

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

export function swigluStock<T extends tf.Tensor>(gate: T, up: T): T {
  return tf.mul(gate.mul(tf.sigmoid(gate)), up) as T;
}

/** silu(gate) · up, for two tensors of one shape. */
export function swiglu<T extends tf.Tensor>(gate: T, up: T): T {
  if (!fusedActive()) return swigluStock(gate, up);
  if (!tf.util.arraysEqual(gate.shape, up.shape)) throw new Error(`swiglu: gate ${gate.shape} and up ${up.shape} differ in shape`);
  return runKernel(SWIGLU, { gate, up }) as T;
}
