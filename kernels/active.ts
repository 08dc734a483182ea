// What runs right now: the requested mode meets the active backend. The ops of this folder ask
// here, and nothing outside it needs to (BackendInfo.kernels and memory estimates read `activeKernels`).
import { tf } from '../src/engine/tf';
import { getKernelMode, type KernelMode } from './mode';

/** Whether ops run the fused kernels right now: mode 'fused' and the webgpu backend active. */
export function fusedActive(): boolean {
  return getKernelMode() === 'fused' && tf.getBackend() === 'webgpu';
}

/** The kernels that run now: 'fused' only where `fusedActive()`. */
export function activeKernels(): KernelMode {
  return fusedActive() ? 'fused' : 'stock';
}
