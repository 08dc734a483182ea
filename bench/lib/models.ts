// The benchmark's models: the real stories260K (weights from ../shared, served to the browser by
// the driver) and random-weight models with the published shapes of SmolLM2-135M, SmolLM2-360M
// and Qwen2.5-0.5B (configs from test/helpers/random-model.ts, the one copy the tests use too).
// Speed does not depend on the weights' values, only on their shapes.
import { parseModelConfig, type ModelConfig } from '../../src/engine/model/config';
import { loadModel } from '../../src/engine/model/load';
import { LlamaModel } from '../../src/engine/model/llama';
import { bytesSource } from '../../src/engine/model/byte-source';
import type { TextTokenizer } from '../../src/engine/model/tokenizer';
import { QWEN2_5_0_5B, SMOLLM2_135M, SMOLLM2_360M, placeholderTokenizer, randomWeights, type HubConfig } from '../../test/helpers/random-model';

export const BENCH_MODEL_IDS = ['stories260K', 'smollm2-135m', 'smollm2-360m', 'qwen2.5-0.5b'] as const;
export type BenchModelId = (typeof BENCH_MODEL_IDS)[number];

export interface BenchModelSpec {
  id: BenchModelId;
  /** The Hugging Face repository whose shapes this is (what the PyTorch peer would load). */
  hubId: string;
  /** null: the real stories260K files, read through a StoriesFiles provider. */
  config: HubConfig | null;
}

export const BENCH_MODELS: Record<BenchModelId, BenchModelSpec> = {
  stories260K: { id: 'stories260K', hubId: 'stories260K (llama2.c, converted)', config: null },
  'smollm2-135m': { id: 'smollm2-135m', hubId: 'HuggingFaceTB/SmolLM2-135M', config: SMOLLM2_135M },
  'smollm2-360m': { id: 'smollm2-360m', hubId: 'HuggingFaceTB/SmolLM2-360M', config: SMOLLM2_360M },
  'qwen2.5-0.5b': { id: 'qwen2.5-0.5b', hubId: 'Qwen/Qwen2.5-0.5B', config: QWEN2_5_0_5B },
};

export function benchModel(id: string): BenchModelSpec {
  const spec = (BENCH_MODELS as Record<string, BenchModelSpec | undefined>)[id];
  if (!spec) throw new Error(`unknown model "${id}" (choose from ${BENCH_MODEL_IDS.join(', ')})`);
  return spec;
}

/** Where stories260K's config.json and model.safetensors come from (disk in Node, HTTP in the page). */
export interface StoriesFiles {
  config(): Promise<Record<string, unknown>>;
  weights(): Promise<Uint8Array>;
}

export interface BenchModel {
  config: ModelConfig;
  model: LlamaModel;
  dispose(): void;
}

/** A tokenizer for synthetic ids: generation only needs decode (to stream text) to not throw. */
export function silentTokenizer(vocabSize: number): TextTokenizer {
  return { ...placeholderTokenizer(vocabSize), decode: () => '' };
}

/** Loads (stories260K) or draws (the others, seed 0) the weights on the current backend. */
export async function loadBenchModel(spec: BenchModelSpec, stories: StoriesFiles): Promise<BenchModel> {
  let model: LlamaModel;
  if (spec.config === null) {
    const raw = await stories.config();
    const config = parseModelConfig(raw);
    const loaded = await loadModel({
      name: spec.id,
      config: raw,
      tokenizer: silentTokenizer(config.vocabSize),
      weights: bytesSource('model.safetensors', await stories.weights()),
    });
    model = loaded.model;
  } else {
    const config = parseModelConfig({ ...spec.config });
    model = new LlamaModel(config, randomWeights(config, 0));
  }
  return {
    config: model.config,
    model,
    dispose() {
      model.dispose();
      for (const t of model.weights.values()) t.dispose();
    },
  };
}
