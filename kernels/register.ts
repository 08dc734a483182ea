// Registration of WebLoRA's kernels with TF.js: each is a named kernel on the 'webgpu' backend
// (so it records on the gradient tape like any TF.js op) with a registered gradient whose
// per-input functions run only for inputs that lead to the differentiated variables — the
// frozen weights never get a gradient computed.
import { tf } from '../src/engine/tf';

/** The kernel's inputs by name; the op wrappers pass every input a kernel reads. */
type KernelInputs = Record<string, tf.TensorInfo>;
type KernelFunc = (args: { inputs: KernelInputs; backend: object; attrs: tf.NamedAttrMap }) => tf.TensorInfo | tf.TensorInfo[];

/** Registers `kernelName` on the webgpu backend once (modules may be evaluated twice under HMR). */
export function defineKernel(kernelName: string, kernelFunc: KernelFunc): void {
  if (tf.getKernel(kernelName, 'webgpu')) return;
  tf.registerKernel({
    kernelName,
    backendName: 'webgpu',
    kernelFunc: (params) => kernelFunc({ inputs: params.inputs as KernelInputs, backend: params.backend, attrs: params.attrs ?? {} }),
  });
}

export function defineGradient(config: tf.GradConfig): void {
  if (tf.getGradient(config.kernelName)) return;
  tf.registerGradient(config);
}

/** Runs a registered kernel as an op (recorded on the tape when a gradient is registered). */
export function runKernel(kernelName: string, inputs: Record<string, tf.Tensor>, attrs: tf.NamedAttrMap = {}): tf.Tensor {
  return tf.engine().runKernel(kernelName, inputs as unknown as tf.NamedTensorMap, attrs) as tf.Tensor;
}

export function runKernelMulti(kernelName: string, inputs: Record<string, tf.Tensor>, attrs: tf.NamedAttrMap = {}): tf.Tensor[] {
  return tf.engine().runKernel(kernelName, inputs as unknown as tf.NamedTensorMap, attrs) as unknown as tf.Tensor[];
}

/** A gradient for an input the kernels never differentiate (frozen weights, rotary tables). */
export function noGradient(kernelName: string, input: string): () => tf.Tensor {
  return () => {
    throw new Error(`${kernelName}: no gradient for input "${input}" (it is treated as a constant); use kernel mode "stock" to differentiate it`);
  };
}
