// The precision of the frozen base: 'fp32' (the default, and the reference) or 'f16-base' —
// the frozen matmul weights (linears, embedding, lm_head) stored once as halves on the GPU and
// multiplied by the half-precision kernels (matmul-f16.ts) with float32 accumulation, while LoRA
// A/B, their gradients, AdamW's state, norms, softmax and the loss stay float32. 'f16-base'
// needs the webgpu backend with shader-f16 and the fused kernels; 'auto' picks it exactly there
// (src/engine/backend.ts). Like mode.ts, no TF.js here: the CLI and the app type their menus with it.

export type Precision = 'fp32' | 'f16-base';
export type PrecisionChoice = Precision | 'auto';
export const PRECISIONS: readonly Precision[] = ['fp32', 'f16-base'];
export const PRECISION_CHOICES: readonly PrecisionChoice[] = ['fp32', 'f16-base', 'auto'];

let precision: Precision = 'fp32';

/** The precision models load their weights in (set by initBackend). */
export function setPrecision(p: Precision): void {
  if (!PRECISIONS.includes(p)) throw new Error(`precision must be "fp32" or "f16-base", got ${JSON.stringify(p)}`);
  precision = p;
}

export function getPrecision(): Precision {
  return precision;
}
