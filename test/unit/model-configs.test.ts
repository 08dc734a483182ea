// The decoder against an independent float64 reference on tiny configs that switch on every
// family feature: llama with llama3 rope scaling, qwen2 q/k/v biases, qwen3 q/k norms with an
// explicit head_dim; the published configs of the sizes users load parse to their shapes and
// parameter counts. Forwards at those full sizes are in test/slow/full-size-models.test.ts.
import { float32Weight } from '../../kernels/half';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import {
  ConfigError,
  expectedTensorShapes,
  parameterCount,
  parseModelConfig,
  SUPPORTED_MODEL_TYPES,
} from '../../src/engine/model/config';
import { LlamaModel } from '../../src/engine/model/llama';
import { ropeInverseFrequencies } from '../../src/engine/model/rope';
import { disposeWeights, type WeightMap } from '../../src/engine/model/weights';
import {
  QWEN2_5_0_5B,
  randomWeights,
  SMOLLM2_135M,
  SMOLLM2_360M,
  TINY_LLAMA3,
  TINY_QWEN2,
  TINY_QWEN3,
  type HubConfig,
} from '../helpers/random-model';
import { maxRelativeError } from '../helpers/numerics';
import { allFinite, engineLogits, randomIds } from '../helpers/model-forward';
import { hfInverseFrequencies, referenceLogits, type F64Weights } from '../helpers/reference-decoder';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const parse = (raw: HubConfig) => parseModelConfig({ ...raw });

describe('hub configs', () => {
  it('parse SmolLM2-135M, SmolLM2-360M and Qwen2.5-0.5B into the published shapes', () => {
    const smol = parse(SMOLLM2_135M);
    expect(smol).toMatchObject({
      family: 'llama',
      headDim: 64,
      numKvHeads: 3,
      tieWordEmbeddings: true,
      attentionBias: false,
      qkNorm: false,
      ropeTheta: 100000,
      ropeScaling: null,
      bosTokenId: 0,
      eosTokenIds: [0],
    });
    expect(parse(SMOLLM2_360M)).toMatchObject({ headDim: 64, numKvHeads: 5, tieWordEmbeddings: true });
    const qwen = parse(QWEN2_5_0_5B);
    expect(qwen).toMatchObject({
      family: 'qwen2',
      headDim: 64,
      attentionBias: true,
      outputBias: false,
      rmsNormEps: 1e-6,
      ropeTheta: 1e6,
      eosTokenIds: [151643],
    });
    // The model cards' counts: 134.5M, 361.8M, and Qwen's "0.49B (0.36B non-embedding)".
    expect(parameterCount(smol)).toBe(134_515_008);
    expect(parameterCount(parse(SMOLLM2_360M))).toBe(361_821_120);
    expect(parameterCount(qwen)).toBe(494_032_768);
    expect(parameterCount(qwen) - qwen.vocabSize * qwen.hiddenSize).toBe(357_898_112);
  });

  it('expect q/k/v biases (and only those) for qwen2', () => {
    const shapes = expectedTensorShapes(parse(QWEN2_5_0_5B));
    expect(shapes.get('model.layers.23.self_attn.q_proj.bias')).toEqual([896]);
    expect(shapes.get('model.layers.23.self_attn.k_proj.bias')).toEqual([128]);
    expect(shapes.get('model.layers.23.self_attn.v_proj.bias')).toEqual([128]);
    expect(shapes.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
    expect(shapes.has('lm_head.weight')).toBe(false);
    expect([...expectedTensorShapes(parse(SMOLLM2_135M)).keys()].some((n) => n.endsWith('.bias'))).toBe(false);
  });
});

// The float64 reference: test/helpers/reference-decoder.ts.
describe.each([
  { name: 'llama + llama3 rope scaling, untied', raw: TINY_LLAMA3 },
  { name: 'qwen2 q/k/v biases, tied', raw: TINY_QWEN2 },
  { name: 'qwen3 q/k norms, head_dim 16 ≠ 32/4, untied', raw: TINY_QWEN3 },
])('2-layer GQA-2 decoder ($name) against a float64 reference', ({ raw }) => {
  it('gives the same logits for a full, a right-padded and a left-padded row', async () => {
    const config = parse(raw);
    const baseline = tf.memory().numTensors;
    // Large weights and jittered norms, so attention is far from uniform and every norm weight counts.
    const weights = randomWeights(config, 7, { std: 0.3, normJitter: 0.2 });
    const w64: F64Weights = new Map([...weights].map(([n, t]) => [n, Float64Array.from(float32Weight(t).dataSync())]));
    const [a, b, c] = [randomIds(3, config.vocabSize, 1), randomIds(2, config.vocabSize, 2), randomIds(2, config.vocabSize, 3)];
    const model = new LlamaModel(config, weights);
    const { logits } = await engineLogits(model, [a, [...b, 0], [0, ...c]], [[1, 1, 1], [1, 1, 0], [0, 1, 1]]);
    model.dispose();
    disposeWeights(weights);
    expect(tf.memory().numTensors).toBe(baseline);

    const vocab = config.vocabSize;
    const row = (r: number, from: number, count: number) => logits.subarray((r * 3 + from) * vocab, (r * 3 + from + count) * vocab);
    const flat = (rows: Float64Array[]) => Float64Array.from(rows.flatMap((x) => [...x]));
    // Padding must be invisible: a padded row equals its prompt alone at positions 0, 1, ...
    expect(maxRelativeError(flat(referenceLogits(raw, w64, a)), row(0, 0, 3))).toBeLessThan(1e-4);
    expect(maxRelativeError(flat(referenceLogits(raw, w64, b)), row(1, 0, 2))).toBeLessThan(1e-4);
    expect(maxRelativeError(flat(referenceLogits(raw, w64, c)), row(2, 1, 2))).toBeLessThan(1e-4);
  });
});

describe('qwen3 q/k norm', () => {
  it.each(['q_norm', 'k_norm'])('reads %s: changing its weight changes finite logits', async (norm) => {
    const config = parse(TINY_QWEN3);
    expect(config).toMatchObject({ qkNorm: true, headDim: 16, hiddenSize: 32, numHeads: 4 });
    const baseline = tf.memory().numTensors;
    const weights = randomWeights(config, 3, { std: 0.3 });
    const ids = [randomIds(5, config.vocabSize, 4)];
    const mask = [new Array(5).fill(1)];
    const logitsWith = async (w: WeightMap) => {
      const model = new LlamaModel(config, w);
      const { logits } = await engineLogits(model, ids, mask);
      model.dispose();
      return logits;
    };
    const before = await logitsWith(weights);
    const name = `model.layers.0.self_attn.${norm}.weight`;
    const replaced = tf.randomNormal([config.headDim], 1, 0.5, 'float32', 9);
    const after = await logitsWith(new Map(weights).set(name, replaced));
    replaced.dispose();
    disposeWeights(weights);
    expect(tf.memory().numTensors).toBe(baseline);
    expect(allFinite(before) && allFinite(after)).toBe(true);
    expect(maxRelativeError(before, after)).toBeGreaterThan(1e-3);
  });
});

describe('llama3 rope scaling', () => {
  it('matches transformers _compute_llama3_parameters in every band', () => {
    const config = parse(TINY_LLAMA3);
    expect(config.ropeScaling).toEqual({
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 8,
      originalMaxPositionEmbeddings: 8192,
    });
    const got = ropeInverseFrequencies(config);
    const want = hfInverseFrequencies(TINY_LLAMA3);
    expect(got.length).toBe(4);
    // float32 output of a float64 computation: equal to within its rounding.
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!) / want[i]!).toBeLessThan(1e-7);
    // The config is chosen so each of HF's three bands is hit: kept, interpolated, slowed 8×.
    const plain = hfInverseFrequencies({ ...TINY_LLAMA3, rope_scaling: null });
    expect(want[0]).toBe(plain[0]);
    expect(want[1]).toBe(plain[1]);
    expect(plain[2]! / 8 < want[2]! && want[2]! < plain[2]!).toBe(true);
    expect(want[3]).toBeCloseTo(plain[3]! / 8, 15);
    // By hand for the interpolated band: wavelength 2π·500000^½ = 4442.9, smooth = (8192/4442.9 − 1)/7.
    const smooth = (8192 / (2 * Math.PI * Math.sqrt(500000)) - 1) / 7;
    expect(got[2]! / plain[2]!).toBeCloseTo((1 - smooth) / 8 + smooth, 6);
  });
});

describe('config errors', () => {
  const raw = { ...TINY_QWEN2 } as Record<string, unknown>;

  it('names the unsupported model_type and lists the supported ones', () => {
    const error = () => parseModelConfig({ ...raw, model_type: 'gpt2' });
    expect(error).toThrow(ConfigError);
    expect(error).toThrow(/"gpt2" is not supported/);
    for (const type of SUPPORTED_MODEL_TYPES) expect(error).toThrow(new RegExp(`\\b${type}\\b`));
  });

  it('refuses an unsupported rope_scaling type', () => {
    const error = () => parseModelConfig({ ...raw, rope_scaling: { rope_type: 'yarn', factor: 4 } });
    expect(error).toThrow(ConfigError);
    expect(error).toThrow(/rope_scaling type "yarn" is not supported/);
  });

  it('names a missing required field', () => {
    const missing = { ...raw };
    delete missing.hidden_size;
    expect(() => parseModelConfig(missing)).toThrow(ConfigError);
    expect(() => parseModelConfig(missing)).toThrow(/missing required field "hidden_size"/);
  });

  it('refuses attention heads that are not a multiple of the kv heads', () => {
    const error = () => parseModelConfig({ ...raw, num_attention_heads: 4, num_key_value_heads: 3 });
    expect(error).toThrow(ConfigError);
    expect(error).toThrow(/num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/);
  });
});
