// Gemma 3 (model/gemma3.ts) against an independent float64 reference of transformers'
// modeling_gemma3.py, on tiny configs with both layer types and a window shorter than the
// sequence: padded rows, KV-cache decoding across the window boundary, cpu vs wasm; and the
// published configs' shapes and parameter counts. LoRA on Gemma 3 is in gemma3-lora.test.ts,
// its config errors in gemma3-config.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { parameterCount, parseModelConfig } from '../../src/engine/model/config';
import { Gemma3Model } from '../../src/engine/model/gemma3';
import { createDecoder } from '../../src/engine/model/load';
import type { PastKeyValues } from '../../src/engine/model/decoder';
import { disposeWeights } from '../../src/engine/model/weights';
import { GEMMA3_270M, randomWeights, TINY_GEMMA3, TINY_GEMMA3_PATTERN, type HubConfig } from '../helpers/random-model';
import { maxRelativeError } from '../helpers/numerics';
import { cachedAndFullGeneration, engineLogits, randomIds, randomModelLogits } from '../helpers/model-forward';
import { gemma3Reference, referenceWeights } from '../helpers/gemma3-reference';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const parse = (raw: HubConfig) => parseModelConfig({ ...raw });

describe('Gemma 3 hub configs', () => {
  it('270M parses to its published shape: 15 sliding layers (window 512) and 3 full, 268,098,176 parameters', () => {
    const c = parse(GEMMA3_270M);
    expect(c).toMatchObject({
      family: 'gemma3',
      vocabSize: 262_144,
      hiddenSize: 640,
      intermediateSize: 2048,
      numLayers: 18,
      numHeads: 4,
      numKvHeads: 1,
      headDim: 256,
      slidingWindow: 512,
      ropeTheta: 1_000_000,
      ropeLocalTheta: 10_000,
      ropeScaling: null,
      attentionScale: 1 / 16,
      hiddenAct: 'gelu_pytorch_tanh',
      qkNorm: true,
      tieWordEmbeddings: true,
      rmsNormEps: 1e-6,
      bosTokenId: 2,
      eosTokenIds: [1],
      padTokenId: 0,
    });
    const full = c.layerTypes.flatMap((t, i) => (t === 'full_attention' ? [i] : []));
    expect(full).toEqual([5, 11, 17]);
    // Google's "170M embedding + 100M transformer": 262144·640 = 167,772,160 embedding.
    expect(parameterCount(c)).toBe(268_098_176);
    expect(parameterCount(c) - c.vocabSize * c.hiddenSize).toBe(100_326_016);
  });

  it('a config without layer_types (as 1B writes it) slides on all but every sliding_window_pattern-th layer', () => {
    // google/gemma-3-1b-pt's shape: 26 layers, hidden 1152, MLP 6912, sliding_window_pattern 6.
    const c = parseModelConfig({ ...GEMMA3_270M, layer_types: undefined, sliding_window_pattern: 6, num_hidden_layers: 26, hidden_size: 1152, intermediate_size: 6912 });
    expect(c.layerTypes.flatMap((t, i) => (t === 'full_attention' ? [i] : []))).toEqual([5, 11, 17, 23]);
    expect(parameterCount(c)).toBe(999_885_952);
    const pattern = parse(TINY_GEMMA3_PATTERN);
    expect(pattern.layerTypes).toEqual(['sliding_attention', 'full_attention', 'sliding_attention', 'full_attention']);
    expect(pattern.ropeScaling).toEqual({ type: 'linear', factor: 8 });
    expect(pattern.eosTokenIds).toEqual([1, 6]);
  });

  it('generation_config.json eos ids (the -it models list <end_of_turn>, 106) join config.json\'s', () => {
    expect(parseModelConfig({ ...GEMMA3_270M }, { eos_token_id: [1, 106] }).eosTokenIds).toEqual([1, 106]);
    expect(parseModelConfig({ ...GEMMA3_270M }, null).eosTokenIds).toEqual([1]);
  });

  it('a gemma3 (multimodal) config is read from its text_config with Gemma3TextConfig defaults', () => {
    const { model_type: _, ...text } = GEMMA3_270M as Record<string, unknown>;
    const top = { model_type: 'gemma3', text_config: { model_type: 'gemma3_text', ...text, num_attention_heads: undefined, num_key_value_heads: undefined } };
    const c = parseModelConfig(top);
    expect(c).toMatchObject({ family: 'gemma3', hiddenSize: 640, numHeads: 8, numKvHeads: 4, slidingWindow: 512, tieWordEmbeddings: true });
  });

  it('transformers 5 rope_parameters give each layer type its RoPE', () => {
    const c = parseModelConfig({
      ...TINY_GEMMA3,
      rope_theta: undefined,
      rope_local_base_freq: undefined,
      rope_parameters: {
        full_attention: { rope_type: 'linear', factor: 4, rope_theta: 500000 },
        sliding_attention: { rope_type: 'default', rope_theta: 20000 },
      },
    });
    expect(c).toMatchObject({ ropeTheta: 500000, ropeScaling: { type: 'linear', factor: 4 }, ropeLocalTheta: 20000 });
  });
});

describe.each([
  { name: 'layer_types, window 3', raw: TINY_GEMMA3 },
  { name: 'sliding_window_pattern 2, window 2, linear rope scaling ×8, 1 KV head', raw: TINY_GEMMA3_PATTERN },
])('tiny Gemma 3 ($name) against a float64 reference', ({ raw }) => {
  const config = parse(raw);
  const T = 6;

  it('full, right-padded and left-padded rows of 6 tokens agree within 1e-5 relative', async () => {
    const baseline = tf.memory().numTensors;
    // Large weights and jittered norms: attention far from uniform, every norm weight counts.
    const weights = randomWeights(config, 7, { std: 0.3, normJitter: 0.3 });
    const w64 = referenceWeights(weights);
    const [a, b, c] = [randomIds(T, config.vocabSize, 1), randomIds(T - 2, config.vocabSize, 2), randomIds(T - 2, config.vocabSize, 3)];
    const model = createDecoder(config, weights);
    expect(model).toBeInstanceOf(Gemma3Model);
    const { logits } = await engineLogits(model, [a, [...b, 0, 0], [0, 0, ...c]], [new Array(T).fill(1), [1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1]]);
    model.dispose();
    disposeWeights(weights);
    expect(tf.memory().numTensors).toBe(baseline);

    const vocab = config.vocabSize;
    const row = (r: number, from: number, count: number) => logits.subarray((r * T + from) * vocab, (r * T + from + count) * vocab);
    const flat = (rows: Float64Array[]) => Float64Array.from(rows.flatMap((x) => [...x]));
    expect(maxRelativeError(flat(gemma3Reference(raw, w64, a)), row(0, 0, T))).toBeLessThan(1e-5);
    expect(maxRelativeError(flat(gemma3Reference(raw, w64, b)), row(1, 0, T - 2))).toBeLessThan(1e-5);
    expect(maxRelativeError(flat(gemma3Reference(raw, w64, c)), row(2, 2, T - 2))).toBeLessThan(1e-5);
  });

  it('the window matters: the reference without it differs (so the agreement above is not vacuous)', () => {
    const weights = randomWeights(config, 7, { std: 0.3, normJitter: 0.3 });
    const w64 = referenceWeights(weights);
    disposeWeights(weights);
    const ids = randomIds(T, config.vocabSize, 1);
    const windowed = gemma3Reference(raw, w64, ids);
    const unwindowed = gemma3Reference({ ...raw, sliding_window: 1000 }, w64, ids);
    expect(maxRelativeError(windowed[T - 1]!, unwindowed[T - 1]!)).toBeGreaterThan(1e-2);
  });

  it('KV-cache decoding across the window boundary equals the full forward and the reference (left-padded batch)', async () => {
    const baseline = tf.memory().numTensors;
    const weights = randomWeights(config, 11, { std: 0.3, normJitter: 0.3 });
    const w64 = referenceWeights(weights);
    const model = createDecoder(config, weights);
    const total = 7;
    const prefill = 2;
    const a = randomIds(total, config.vocabSize, 4);
    const b = [0, ...randomIds(total - 1, config.vocabSize, 5)];
    const mask = [new Array(total).fill(1), [0, ...new Array(total - 1).fill(1)]];
    const ids = [a, b];

    // Step by step: the prompt's first `prefill` columns, then one column at a time with the cache.
    const stepLogits: Float32Array[] = [];
    let past: PastKeyValues | undefined;
    for (let t = prefill; t <= total; t++) {
      const from = past ? t - 1 : 0;
      const out = tf.tidy(() => {
        const x = tf.tensor2d(ids.map((r) => r.slice(from, t)), [2, t - from], 'int32');
        const m = tf.tensor2d(mask.map((r) => r.slice(0, t)), [2, t], 'int32');
        const { hidden, present } = model.forward(x, { attentionMask: m, past });
        const last = hidden.slice([0, t - from - 1, 0], [2, 1, -1]);
        return { logits: model.logits(last), present };
      });
      stepLogits.push((await out.logits.data()) as Float32Array);
      out.logits.dispose();
      if (past) tf.dispose([...past.keys, ...past.values]);
      past = out.present;
    }
    tf.dispose([...past!.keys, ...past!.values]);
    const { logits: full } = await engineLogits(model, ids, mask);
    model.dispose();
    disposeWeights(weights);
    expect(tf.memory().numTensors).toBe(baseline);

    const vocab = config.vocabSize;
    const refA = gemma3Reference(raw, w64, a);
    const refB = gemma3Reference(raw, w64, b.slice(1));
    stepLogits.forEach((step, s) => {
      const t = prefill + s - 1; // the position whose next token these logits predict
      expect(maxRelativeError(full.subarray(t * vocab, (t + 1) * vocab), step.subarray(0, vocab))).toBeLessThan(1e-5);
      expect(maxRelativeError(full.subarray((total + t) * vocab, (total + t + 1) * vocab), step.subarray(vocab))).toBeLessThan(1e-5);
      expect(maxRelativeError(refA[t]!, step.subarray(0, vocab))).toBeLessThan(1e-5);
      expect(maxRelativeError(refB[t - 1]!, step.subarray(vocab))).toBeLessThan(1e-5);
    });
    expect(stepLogits).toHaveLength(total - prefill + 1);
  });

  it('generation with the KV cache equals generation without it, past the window (sampled, seeded)', async () => {
    const { cached, full } = await cachedAndFullGeneration(config, 13, [2, 17], 10);
    expect(cached).toHaveLength(10);
    expect(cached).toEqual(full);
  });
});

describe('Gemma 3 on wasm', () => {
  const config = parse(TINY_GEMMA3);
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('padded-batch logits agree with cpu within 1e-4 relative', async () => {
    const ids = [randomIds(6, config.vocabSize, 1), [0, 0, ...randomIds(4, config.vocabSize, 2)]];
    const mask = [new Array(6).fill(1), [0, 0, 1, 1, 1, 1]];
    const run = () => randomModelLogits(config, 7, ids, mask);
    await tf.setBackend('cpu');
    const cpu = await run();
    expect((await initBackend({ prefer: 'wasm' })).name).toBe('wasm');
    const wasm = await run();
    expect(maxRelativeError(cpu, wasm)).toBeLessThan(1e-4);
  });
});
