// WebLoRA's op layer: every op the model calls, each deciding for itself whether it runs the
// fused WGSL kernels of this folder or the stock TF.js composition (kernels/README.md).
// Importing this module registers the kernels (inert until kernel mode 'fused' meets the
// webgpu backend).
export { setKernelMode, getKernelMode, withKernelMode, KERNEL_MODES, type KernelMode } from './mode';
export { fusedActive, activeKernels } from './active';
export { linear, linears, type Dense, type LoraBranch } from './linear';
export { residual, type Residual } from './residual';
export { rmsNorm, addRmsNorm } from './rmsnorm';
export { swiglu } from './swiglu';
export { geglu } from './geglu';
export { ropeQkv } from './rope';
export { causalAttention, type AttentionOptions } from './attention';
export { lmHeadCrossEntropy, DEFAULT_CHUNK_BYTES } from './cross-entropy';
export { selectRows } from './select-rows';
export { embedding } from './half-ops';
export { HalfWeight, isHalf, type FrozenWeight } from './half';
export { sampleOnDevice, type DeviceSampling } from './sample';
export { clippedAdamw, adamwStock, clipByGlobalNorm, globalNormSquared, type AdamWSlot, type AdamWHyper } from './adamw';
export { tuneFrozenMatmuls } from './matmul';
export { TILE_CANDIDATES, tileFor, isTuned, clearTuning, rowBucket, type TuningResult, type MatmulProblem } from './tuning';
