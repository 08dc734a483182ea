// The decoder against an independent float64 reference on tiny configs that switch on every
// family feature: llama with llama3 rope scaling, qwen2 q/k/v biases, qwen3 q/k norms with an
// explicit head_dim; the published configs of the sizes users load parse to their shapes and
// parameter counts. Forwards at those full sizes are in test/slow/full-size-models.test.ts.
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

// ---------------------------------------------------------------------------------------------
// An independent reference: HF's modeling_llama / modeling_qwen2 / modeling_qwen3 forward written
// out in float64 loops, one token at a time, reading only the raw config.json (not ModelConfig).

/** HF's default inverse frequencies, then _compute_llama3_parameters / linear scaling as written there. */
function hfInverseFrequencies(raw: HubConfig): Float64Array {
  const dim = (raw.head_dim as number | undefined) ?? (raw.hidden_size as number) / (raw.num_attention_heads as number);
  const base = (raw.rope_theta as number | undefined) ?? 10000;
  const inv = Float64Array.from({ length: dim / 2 }, (_, i) => 1 / Math.pow(base, (2 * i) / dim));
  const rs = raw.rope_scaling as Record<string, number | string> | null | undefined;
  const type = rs?.rope_type ?? rs?.type;
  if (!rs || type === undefined || type === 'default') return inv;
  const factor = rs.factor as number;
  if (type === 'linear') return inv.map((f) => f / factor);
  if (type !== 'llama3') throw new Error(`reference: rope type ${String(type)}`);
  const low = rs.low_freq_factor as number;
  const high = rs.high_freq_factor as number;
  const oldContextLen = rs.original_max_position_embeddings as number;
  const lowFreqWavelen = oldContextLen / low;
  const highFreqWavelen = oldContextLen / high;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    // inv_freq_llama = where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    const llama = wavelen > lowFreqWavelen ? f / factor : f;
    const smooth = (oldContextLen / wavelen - low) / (high - low);
    const smoothed = ((1 - smooth) * llama) / factor + smooth * llama;
    const isMedium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
    return isMedium ? smoothed : llama;
  });
}

type F64Weights = Map<string, Float64Array>;

function rmsNorm64(x: Float64Array, weight: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * weight[i]!);
}

function linear64(w: F64Weights, name: string, x: Float64Array, withBias: boolean): Float64Array {
  const weight = w.get(`${name}.weight`)!;
  const bias = withBias ? w.get(`${name}.bias`) : undefined;
  if (withBias && !bias) throw new Error(`reference: ${name}.bias is not in the weights`);
  const out = new Float64Array(weight.length / x.length);
  for (let o = 0; o < out.length; o++) {
    let s = bias ? bias[o]! : 0;
    for (let i = 0; i < x.length; i++) s += weight[o * x.length + i]! * x[i]!;
    out[o] = s;
  }
  return out;
}

/** rotate_half RoPE on each head of `v` (in place), HF's non-interleaved layout. */
function rope64(v: Float64Array, headDim: number, pos: number, inv: Float64Array): void {
  const half = headDim / 2;
  for (let h = 0; h < v.length / headDim; h++) {
    for (let i = 0; i < half; i++) {
      const a = h * headDim + i;
      const [x1, x2] = [v[a]!, v[a + half]!];
      const [c, s] = [Math.cos(pos * inv[i]!), Math.sin(pos * inv[i]!)];
      v[a] = x1 * c - x2 * s;
      v[a + half] = x2 * c + x1 * s;
    }
  }
}

/** Logits [T][vocab] of one unpadded sequence at positions 0..T-1. */
function referenceLogits(raw: HubConfig, w: F64Weights, ids: number[]): Float64Array[] {
  const hidden = raw.hidden_size as number;
  const heads = raw.num_attention_heads as number;
  const kvHeads = raw.num_key_value_heads as number;
  const d = (raw.head_dim as number | undefined) ?? hidden / heads;
  const eps = raw.rms_norm_eps as number;
  const qwen3 = raw.model_type === 'qwen3';
  // Qwen2Attention: q/k/v bias=True, o_proj bias=False; Llama/Qwen3: all four follow attention_bias.
  const qkvBias = raw.model_type === 'qwen2' || raw.attention_bias === true;
  const oBias = raw.model_type !== 'qwen2' && raw.attention_bias === true;
  const inv = hfInverseFrequencies(raw);
  const embed = w.get('model.embed_tokens.weight')!;
  const x = ids.map((id) => embed.slice(id * hidden, (id + 1) * hidden));
  const headOf = (v: Float64Array, h: number) => v.subarray(h * d, (h + 1) * d);
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);

  for (let l = 0; l < (raw.num_hidden_layers as number); l++) {
    const p = `model.layers.${l}.`;
    const q: Float64Array[] = [];
    const k: Float64Array[] = [];
    const v: Float64Array[] = [];
    x.forEach((xt, t) => {
      const a = rmsNorm64(xt, w.get(`${p}input_layernorm.weight`)!, eps);
      const qt = linear64(w, `${p}self_attn.q_proj`, a, qkvBias);
      const kt = linear64(w, `${p}self_attn.k_proj`, a, qkvBias);
      if (qwen3) {
        for (let h = 0; h < heads; h++) qt.set(rmsNorm64(headOf(qt, h), w.get(`${p}self_attn.q_norm.weight`)!, eps), h * d);
        for (let h = 0; h < kvHeads; h++) kt.set(rmsNorm64(headOf(kt, h), w.get(`${p}self_attn.k_norm.weight`)!, eps), h * d);
      }
      rope64(qt, d, t, inv);
      rope64(kt, d, t, inv);
      q.push(qt);
      k.push(kt);
      v.push(linear64(w, `${p}self_attn.v_proj`, a, qkvBias));
    });
    const attnOut = x.map((_, t) => {
      const ctx = new Float64Array(heads * d);
      for (let h = 0; h < heads; h++) {
        const g = Math.floor(h / (heads / kvHeads)); // repeat_kv: query head h reads kv head h // n_rep
        const scores = Array.from({ length: t + 1 }, (_, j) => dot(headOf(q[t]!, h), headOf(k[j]!, g)) / Math.sqrt(d));
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((s, a) => s + a, 0);
        for (let j = 0; j <= t; j++) {
          const vj = headOf(v[j]!, g);
          for (let i = 0; i < d; i++) ctx[h * d + i] += (e[j]! / z) * vj[i]!;
        }
      }
      return linear64(w, `${p}self_attn.o_proj`, ctx, oBias);
    });
    x.forEach((xt, t) => {
      for (let i = 0; i < hidden; i++) xt[i] += attnOut[t]![i]!;
      const m = rmsNorm64(xt, w.get(`${p}post_attention_layernorm.weight`)!, eps);
      const gate = linear64(w, `${p}mlp.gate_proj`, m, false);
      const up = linear64(w, `${p}mlp.up_proj`, m, false);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
      const down = linear64(w, `${p}mlp.down_proj`, act, false);
      for (let i = 0; i < hidden; i++) xt[i] += down[i]!;
    });
  }
  const headName = raw.tie_word_embeddings === true ? 'model.embed_tokens' : 'lm_head';
  return x.map((xt) => linear64(w, headName, rmsNorm64(xt, w.get('model.norm.weight')!, eps), false));
}

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
    const w64: F64Weights = new Map([...weights].map(([n, t]) => [n, Float64Array.from(t.dataSync())]));
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
