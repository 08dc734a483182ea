// Rough memory needs, so the UI can warn before a run rather than die of out-of-memory in it.
// Weights are float32; activations count what stock TF.js keeps for the backward pass per
// layer and token (inputs of every matmul, norms, attention probabilities), as an estimate.
import { parameterCount, type ModelConfig } from './config';
import { linearModules, type LoraConfig } from '../lora/lora';

export interface MemoryEstimate {
  weightsBytes: number;
  loraBytes: number;
  activationBytes: number;
  totalBytes: number;
}

export function loraParameterCount(c: ModelConfig, lora: Pick<LoraConfig, 'r' | 'targetModules'>): number {
  let n = 0;
  for (const [path, [out, inp]] of linearModules(c)) {
    if (lora.targetModules.includes(path.slice(path.lastIndexOf('.') + 1))) n += lora.r * (out + inp);
  }
  return n;
}

export function estimateTrainingMemory(
  c: ModelConfig,
  lora: Pick<LoraConfig, 'r' | 'targetModules'>,
  batchSize: number,
  seqLen: number,
): MemoryEstimate {
  const weightsBytes = parameterCount(c) * 4;
  // Parameters, gradients, and AdamW's two moments.
  const loraBytes = loraParameterCount(c, lora) * 4 * 4;
  const tokens = batchSize * seqLen;
  const q = c.numHeads * c.headDim;
  const perTokenPerLayer = 6 * c.hiddenSize + 3 * q + 4 * c.intermediateSize + 2 * c.numHeads * seqLen;
  const activationBytes = tokens * (perTokenPerLayer * c.numLayers + c.vocabSize) * 4;
  return { weightsBytes, loraBytes, activationBytes, totalBytes: weightsBytes + loraBytes + activationBytes };
}
