// The members of tfjs-backend-webgpu's backend that our runners use (dispatch.ts for every
// kernel, decode-runner.ts for the decode step) — private in the TypeScript declarations of
// tfjs-backend-webgpu 4.22. `backendInternals` checks they exist, so that a TF.js upgrade that
// changes them fails loudly rather than corrupting memory.
import type { tf } from '../src/engine/tf';
import type { Uniform } from './program';

export interface TensorData {
  resource: GPUBuffer | null;
  /** The buffer's own dtype, which the header's element type must match. */
  dtype: tf.DataType;
}

export interface BackendInternals {
  device: GPUDevice;
  tensorMap: { get(id: object): TensorData };
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  uploadToGPU(id: object): void;
  makeUniforms(u: Uniform[]): GPUBufferBinding;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandEncoder: GPUCommandEncoder;
  computePassEncoder: GPUComputePassEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
}

const REQUIRED = ['device', 'tensorMap', 'makeTensorInfo', 'uploadToGPU', 'makeUniforms', 'ensureCommandEncoderReady', 'endComputePassEncoder', 'submitQueue', 'commandQueueOwnedIds', 'dispatchCountInPass'];

export function backendInternals(backend: object, who: string): BackendInternals {
  const b = backend as Record<string, unknown>;
  const missing = REQUIRED.filter((k) => b[k] === undefined);
  if (missing.length) throw new Error(`${who}: this tfjs-backend-webgpu lacks ${missing.join(', ')}; the runner needs updating`);
  return backend as unknown as BackendInternals;
}
