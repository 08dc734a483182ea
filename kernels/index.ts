// WebLoRA's fused WGSL kernels for the webgpu backend, and the switch between them and the
// stock TF.js ops. Importing this module registers the kernels (registration is inert until
// kernel mode 'fused' is set and the webgpu backend runs). See README.md.
export { setKernelMode, getKernelMode, withKernelMode, KERNEL_MODES, type KernelMode } from './mode';
export { fusedActive, activeKernels } from './active';
export { selectRows } from './select-rows';
export { rmsNorm, rmsNormStock, addRmsNorm } from './rmsnorm';
export { swiglu, swigluStock } from './swiglu';
export { ropeQkv, ropeQkvStock, type HeadsFirst } from './rope';
export { loraLinear, loraLinearStock, loraLinearGroup, type LoraPart } from './lora-linear';
export { causalAttention, causalAttentionStock, attentionBias, type AttentionInputs } from './attention';
export { lmHeadCrossEntropy, lmHeadCrossEntropyStock } from './cross-entropy';
export { sumOfSquares, adamwUpdate, type AdamWStep } from './adamw';
export { tuneFrozenMatmuls } from './matmul';
export { TILE_CANDIDATES, tileFor, isTuned, clearTuning, rowBucket, type TuningResult, type MatmulProblem } from './tuning';
