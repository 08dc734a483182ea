// A guard for @tensorflow/tfjs-backend-webgpu 4.22, installed by initBackend when WebGPU starts.
//
// AddN: the webgpu kernel binds every input as a storage buffer, so more than
// maxStorageBuffersPerShaderStage - 1 inputs (7 on default limits) make an invalid pipeline and,
// after it, every later command fails. The trainer's global-norm clipping adds one term per
// LoRA tensor (2 per adapted layer), so any real adapter hits it. Concat already splits its
// inputs this way; AddN is given the same treatment here.
import { tf } from './tf';

type KernelFunc = (args: { inputs: tf.TensorInfo[]; backend: unknown; attrs?: unknown }) => tf.TensorInfo;

export function patchWebGpuKernels(): void {
  const original = tf.getKernel('AddN', 'webgpu');
  if (!original || (original as { patched?: boolean }).patched) return;
  const backend = tf.backend() as unknown as { device?: GPUDevice; disposeData(id: unknown): void };
  const maxInputs = Math.max(2, (backend.device?.limits.maxStorageBuffersPerShaderStage ?? 8) - 1);
  const run = original.kernelFunc as unknown as KernelFunc;
  const chunked: KernelFunc = (args) => {
    let inputs = args.inputs;
    if (inputs.length <= maxInputs) return run(args);
    const temporaries: tf.TensorInfo[] = [];
    while (inputs.length > maxInputs) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < inputs.length; i += maxInputs) {
        const part = inputs.slice(i, i + maxInputs);
        if (part.length === 1) next.push(part[0]!);
        else {
          const sum = run({ ...args, inputs: part });
          temporaries.push(sum);
          next.push(sum);
        }
      }
      inputs = next;
    }
    const out = run({ ...args, inputs });
    for (const t of temporaries) (args.backend as typeof backend).disposeData(t.dataId);
    return out;
  };
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({ ...original, kernelFunc: chunked as unknown as tf.KernelFunc, ...{ patched: true } } as tf.KernelConfig);
}
