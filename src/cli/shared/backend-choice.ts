// The --backend values, apart from backend.ts so that parsing flags does not load TF.js.
import type { BackendName } from '../../engine/backend';

export type BackendChoice = BackendName | 'auto';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm', 'cpu'];

/** --kernels: the WebGPU hot loop's fused WGSL kernels, or stock TF.js ops (kernels/mode.ts, which loads no TF.js). */
export { KERNEL_MODES as KERNEL_CHOICES, type KernelMode as KernelChoice } from '../../../kernels/mode';
/** --precision: the frozen base in float32 or float16 (kernels/precision.ts, which loads no TF.js). */
export { PRECISION_CHOICES, type PrecisionChoice } from '../../../kernels/precision';
