// Rough memory needs, so the UI can warn before a run rather than die of out-of-memory in it.
// Weights are float32, or under precision 'f16-base' the matrices in halves (two bytes, packed
// two to an int32: kernels/half.ts) and the vectors float32; activations count what the step keeps for the backward pass per layer
// and token (inputs of every matmul, norms, and with stock ops the attention probabilities and
// the [tokens, vocab] logits, which the fused kernels never hold), as an estimate.
import { expectedTensorShapes, layerNorms, type ModelConfig } from './config';
import { storedAsHalf } from './weights';
import { getPrecision, type Precision } from '../../../kernels/precision';
import type { LoraConfig } from '../lora/lora';
import { adaptedLinears } from '../lora/peft-rules';
import { activeKernels, DEFAULT_CHUNK_BYTES, type KernelMode } from '../../../kernels';

export interface MemoryEstimate {
  weightsBytes: number;
  loraBytes: number;
  activationBytes: number;
  totalBytes: number;
}

/** Trainable LoRA parameters: r·(in + out) per adapted linear, each with its own r under rank_pattern. */
export function loraParameterCount(c: ModelConfig, lora: Pick<LoraConfig, 'r' | 'targetModules' | 'rankPattern' | 'layersToTransform' | 'layersPattern'>): number {
  let n = 0;
  for (const [, l] of adaptedLinears(c, { alpha: 1, useRslora: false, ...lora })) n += l.r * (l.out + l.in);
  return n;
}

/** The frozen weights' bytes on the device in `precision`. */
export function frozenWeightBytes(c: ModelConfig, precision: Precision = 'fp32'): number {
  let bytes = 0;
  for (const [, shape] of expectedTensorShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    bytes += precision === 'f16-base' && storedAsHalf(shape) ? Math.ceil(n / 2) * 4 : n * 4;
  }
  return bytes;
}

/** `kernels`: what will run the step; by default what runs now (kernels/active.ts). `precision`: the frozen base's. */
export function estimateTrainingMemory(
  c: ModelConfig,
  lora: Pick<LoraConfig, 'r' | 'targetModules'>,
  batchSize: number,
  seqLen: number,
  kernels: KernelMode = activeKernels(),
  precision: Precision = getPrecision(),
): MemoryEstimate {
  const weightsBytes = frozenWeightBytes(c, precision);
  // Parameters, gradients, and AdamW's two moments.
  const loraBytes = loraParameterCount(c, lora) * 4 * 4;
  const tokens = batchSize * seqLen;
  const q = c.numHeads * c.headDim;
  const fused = kernels === 'fused';
  // Stock: scores and probabilities per key; fused attention keeps two numbers per query row.
  const attention = fused ? 2 * c.numHeads : 2 * c.numHeads * seqLen;
  // Each hidden-size norm keeps its input: two per layer, four in Gemma 3 (its post-norms). Gemma's
  // sliding layers hold as much as full ones: the stock scores are [T, S] with the window masked.
  const perTokenPerLayer = (4 + layerNorms(c).length) * c.hiddenSize + 3 * q + 4 * c.intermediateSize + attention;
  // Stock: the logits; fused: the cross-entropy's backward holds one vocabulary chunk at a time.
  const headBytes = fused ? Math.min(tokens * c.vocabSize * 4, DEFAULT_CHUNK_BYTES) : tokens * c.vocabSize * 4;
  const activationBytes = tokens * perTokenPerLayer * c.numLayers * 4 + headBytes;
  return { weightsBytes, loraBytes, activationBytes, totalBytes: weightsBytes + loraBytes + activationBytes };
}
