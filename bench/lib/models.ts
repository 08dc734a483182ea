// The benchmark's models: the real stories260K (weights from ../shared, served to the browser by
// the driver) and random-weight models with the published shapes of SmolLM2-135M, SmolLM2-360M,
// Qwen2.5-0.5B and Gemma 3 270M. Their hub ids and configs are in bench/model-configs.json, the one copy: the
// PyTorch peer reads it, and so do the tests (test/helpers/random-model.ts). Speed does not depend
// on the weights' values, only on their shapes.
import { parseModelConfig, type ModelConfig } from '../../src/engine/model/config';
import { createDecoder, loadModel } from '../../src/engine/model/load';
import { storedAsHalf } from '../../src/engine/model/weights';
import { getPrecision } from '../../kernels/precision';
import { HalfWeight, isHalf } from '../../kernels/half';
import type { Decoder } from '../../src/engine/model/decoder';
import { bytesSource } from '../../src/engine/model/byte-source';
import type { TextTokenizer } from '../../src/engine/model/tokenizer';
import { placeholderTokenizer, randomWeights, type HubConfig } from '../../test/helpers/random-model';
import MODEL_CONFIGS from '../model-configs.json';

export const BENCH_MODEL_IDS = ['stories260K', 'smollm2-135m', 'smollm2-360m', 'qwen2.5-0.5b', 'gemma3-270m'] as const;
export type BenchModelId = (typeof BENCH_MODEL_IDS)[number];

export interface BenchModelSpec {
  id: BenchModelId;
  /** The Hugging Face repository whose shapes this is (what the PyTorch peer would load). */
  hubId: string;
  /** null: the real stories260K files, read through a StoriesFiles provider. */
  config: HubConfig | null;
}

const benchSpec = (id: BenchModelId): BenchModelSpec => ({
  id,
  hubId: MODEL_CONFIGS[id].hub_id,
  // stories260K's entry is for the peer; here its real config.json is read with its weights.
  config: id === 'stories260K' ? null : Object.freeze({ ...MODEL_CONFIGS[id].config }),
});

export const BENCH_MODELS: Record<BenchModelId, BenchModelSpec> = {
  stories260K: benchSpec('stories260K'),
  'smollm2-135m': benchSpec('smollm2-135m'),
  'smollm2-360m': benchSpec('smollm2-360m'),
  'qwen2.5-0.5b': benchSpec('qwen2.5-0.5b'),
  'gemma3-270m': benchSpec('gemma3-270m'),
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
  model: Decoder;
  dispose(): void;
}

/** A tokenizer for synthetic ids: generation only needs decode (to stream text) to not throw. */
export function silentTokenizer(vocabSize: number): TextTokenizer {
  return { ...placeholderTokenizer(vocabSize), decode: () => '' };
}

/** Loads (stories260K) or draws (the others, seed 0) the weights on the current backend. */
export async function loadBenchModel(spec: BenchModelSpec, stories: StoriesFiles): Promise<BenchModel> {
  let model: Decoder;
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
    const weights = randomWeights(config, 0);
    // f16-base: the matrices as halves, one at a time (as loading a checkpoint converts them).
    if (getPrecision() === 'f16-base') {
      for (const [name, w] of weights) {
        if (isHalf(w) || !storedAsHalf(w.shape)) continue;
        const values = (await w.data()) as Float32Array;
        w.dispose();
        weights.set(name, HalfWeight.fromFloat32(values, w.shape, name));
      }
    }
    model = createDecoder(config, weights);
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
