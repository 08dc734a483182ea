// Model files (from a folder, dropped files or the hub) -> a runnable decoder.
import { parseModelConfig, type ModelConfig } from './config';
import type { ByteSource } from './byte-source';
import { openSafetensors } from './safetensors';
import { loadWeights } from './weights';
import { LlamaModel } from './llama';
import type { TextTokenizer } from './tokenizer';

export interface ModelParts {
  name: string;
  config: Record<string, unknown>;
  tokenizer: TextTokenizer;
  weights: ByteSource;
}

export interface LoadedModel {
  name: string;
  config: ModelConfig;
  tokenizer: TextTokenizer;
  model: LlamaModel;
}

export async function loadModel(parts: ModelParts): Promise<LoadedModel> {
  const config = parseModelConfig(parts.config);
  const file = await openSafetensors(parts.weights);
  const weights = await loadWeights(file, config);
  return { name: parts.name, config, tokenizer: parts.tokenizer, model: new LlamaModel(config, weights) };
}
