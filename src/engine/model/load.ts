// Model files (from a folder, dropped files or the hub) -> a runnable decoder.
import { expectedTensorShapes, parseModelConfig, type ModelConfig } from './config';
import type { ByteSource } from './byte-source';
import { openSafetensors } from './safetensors';
import { loadWeights, type WeightMap } from './weights';
import type { Decoder } from './decoder';
import { LlamaModel } from './llama';
import { Gemma3Model } from './gemma3';
import { checkBindingLimit } from './binding-limit';
import type { TextTokenizer } from './tokenizer';
import { getPrecision, type Precision } from '../../../kernels/precision';

export interface ModelParts {
  name: string;
  config: Record<string, unknown>;
  /** generation_config.json, when the model has one (its eos_token_id stops generation too). */
  generationConfig?: Record<string, unknown> | null;
  tokenizer: TextTokenizer;
  weights: ByteSource;
}

export interface LoadedModel {
  name: string;
  config: ModelConfig;
  tokenizer: TextTokenizer;
  model: Decoder;
}

/** The decoder of the config's family, over weights the caller owns. */
export function createDecoder(config: ModelConfig, weights: WeightMap): Decoder {
  checkBindingLimit([...weights].map(([name, t]) => [name, t.shape] as const));
  return config.family === 'gemma3' ? new Gemma3Model(config, weights) : new LlamaModel(config, weights);
}

/** `precision`: the frozen base's (default: what initBackend set, kernels/precision.ts). */
export async function loadModel(parts: ModelParts, precision: Precision = getPrecision()): Promise<LoadedModel> {
  const config = parseModelConfig(parts.config, parts.generationConfig);
  // Before reading a gigabyte that this GPU could not use.
  checkBindingLimit(expectedTensorShapes(config));
  const file = await openSafetensors(parts.weights);
  const weights = await loadWeights(file, config, precision);
  return { name: parts.name, config, tokenizer: parts.tokenizer, model: createDecoder(config, weights) };
}
