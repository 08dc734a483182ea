// PEFT adapters read as PEFT means them: per-module rank and alpha (rank_pattern, alpha_pattern),
// only some layers (layers_to_transform + layers_pattern), lora_alpha defaulting to 8, and the
// fields WebLoRA does not implement refused by name. The logits are checked against a float64
// reference that applies PEFT's rules as written here (from peft/tuners/tuners_utils.py
// check_target_module_exists and peft/utils/other.py get_pattern_key), and against the merged model.
import { float32Weight } from '../../kernels/half';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { parseModelConfig } from '../../src/engine/model/config';
import { LlamaModel } from '../../src/engine/model/llama';
import { disposeWeights } from '../../src/engine/model/weights';
import { writeSafetensors } from '../../src/engine/model/safetensors';
import { createLoraAdapter, disposeAdapter, type LoraAdapter } from '../../src/engine/lora/lora';
import { AdapterError, exportPeft, importPeft, parsePeftConfig } from '../../src/engine/lora/peft';
import { mergeAdapter, unmergeAdapter } from '../../src/engine/lora/merge';
import { loraParameterCount } from '../../src/engine/model/memory';
import { mulberry32 } from '../../src/engine/rng';
import { TINY_LLAMA3, randomWeights } from '../helpers/random-model';
import { maxRelativeError } from '../helpers/numerics';
import { randomIds } from '../helpers/model-forward';
import { referenceLogits, type F64Weights } from '../helpers/reference-decoder';

const RAW = { ...TINY_LLAMA3, num_hidden_layers: 3 };
const config = parseModelConfig({ ...RAW });
const H = config.hiddenSize;
const KV = config.numKvHeads * config.headDim;
const F = config.intermediateSize;
const SHAPES: Record<string, [number, number]> = {
  'self_attn.q_proj': [H, H],
  'self_attn.k_proj': [KV, H],
  'self_attn.v_proj': [KV, H],
  'self_attn.o_proj': [H, H],
  'mlp.gate_proj': [F, H],
  'mlp.up_proj': [F, H],
  'mlp.down_proj': [H, F],
};

/** adapter_config.json as PEFT writes one: no lora_alpha (PEFT's default 8 applies). */
const PEFT_CONFIG = {
  peft_type: 'LORA',
  task_type: 'CAUSAL_LM',
  r: 4,
  target_modules: ['q_proj', 'v_proj', 'o_proj', 'down_proj'],
  rank_pattern: { v_proj: 2, 'layers.2.self_attn.q_proj': 6, 'layers\\.[01]\\.mlp\\.down_proj': 3 },
  alpha_pattern: { o_proj: 3, 'model.layers.0.self_attn.q_proj': 12 },
  layers_to_transform: [0, 2],
  layers_pattern: 'layers',
  lora_dropout: 0.0,
  bias: 'none',
  use_rslora: false,
  use_dora: false,
  modules_to_save: null,
};

type PeftJson = typeof PEFT_CONFIG & Record<string, unknown>;

// ---- PEFT's rules, transcribed from its Python ----

/** check_target_module_exists for a list target_modules, with layers_to_transform. */
function peftTargets(key: string, c: PeftJson): boolean {
  let found = c.target_modules.includes(key) || c.target_modules.some((t) => key.endsWith(`.${t}`));
  if (found && c.layers_to_transform?.length) {
    const patterns = c.layers_pattern ? [c.layers_pattern] : [];
    let m: RegExpExecArray | null = null;
    if (patterns.length === 0) m = /^.*\.[^.]*\.(\d+)\./.exec(key);
    else for (const p of patterns) if ((m = new RegExp(`^.*\\.${p}\\.(\\d+)\\.`).exec(key))) break;
    found = m !== null && c.layers_to_transform.includes(Number(m[1]));
  }
  return found;
}

/** get_pattern_key: the first key k (dict order) with re.match(rf"(.*\.)?({k})$", key). */
function peftPatternKey(keys: string[], key: string): string {
  return keys.find((k) => new RegExp(`^(.*\\.)?(${k})$`).test(key)) ?? key;
}

/** _create_and_replace: r = rank_pattern.get(r_key, r), alpha = alpha_pattern.get(alpha_key, lora_alpha). */
function peftRankAlpha(key: string, c: PeftJson): { r: number; alpha: number } {
  const rp = c.rank_pattern as Record<string, number>;
  const ap = c.alpha_pattern as Record<string, number>;
  return { r: rp[peftPatternKey(Object.keys(rp), key)] ?? c.r, alpha: ap[peftPatternKey(Object.keys(ap), key)] ?? ((c.lora_alpha as number | undefined) ?? 8) };
}

/** Random PEFT tensors for every module PEFT would adapt, with its own r. */
function peftWeights(c: PeftJson, seed: number): { bytes: Uint8Array; modules: Map<string, { r: number; alpha: number; a: Float32Array; b: Float32Array }> } {
  const random = mulberry32(seed);
  const modules = new Map<string, { r: number; alpha: number; a: Float32Array; b: Float32Array }>();
  const tensors: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
  for (let l = 0; l < RAW.num_hidden_layers; l++) {
    for (const [sub, [out, inp]] of Object.entries(SHAPES)) {
      const key = `model.layers.${l}.${sub}`;
      if (!peftTargets(key, c)) continue;
      const { r, alpha } = peftRankAlpha(key, c);
      const a = Float32Array.from({ length: r * inp }, () => (random() * 2 - 1) * 0.4);
      const b = Float32Array.from({ length: out * r }, () => (random() * 2 - 1) * 0.4);
      modules.set(key, { r, alpha, a, b });
      tensors.push({ name: `base_model.model.${key}.lora_A.weight`, shape: [r, inp], data: a }, { name: `base_model.model.${key}.lora_B.weight`, shape: [out, r], data: b });
    }
  }
  return { bytes: writeSafetensors(tensors, { format: 'pt' }), modules };
}

/** W + (alpha / r)·B·A in float64 for every adapted module. */
function mergedF64(base: F64Weights, modules: ReturnType<typeof peftWeights>['modules']): F64Weights {
  const w = new Map(base);
  for (const [key, { r, alpha, a, b }] of modules) {
    const name = `${key}.weight`;
    const W = Float64Array.from(base.get(name)!);
    const inp = a.length / r;
    const out = b.length / r;
    for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += b[o * r + k]! * a[k * inp + i]!;
      W[o * inp + i] += (alpha / r) * s;
    }
    w.set(name, W);
  }
  return w;
}

describe('PEFT rank_pattern, alpha_pattern and layers_to_transform (tiny llama, 3 layers, cpu)', () => {
  let model: LlamaModel;
  let w64: F64Weights;
  const ids = randomIds(6, config.vocabSize, 9);
  const logitsOf = (adapter: LoraAdapter | null) =>
    tf.tidy(() => {
      const { hidden } = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'), { attentionMask: tf.ones([1, ids.length], 'int32') as tf.Tensor2D, adapter });
      return model.logits(hidden).dataSync() as Float32Array;
    });
  const flat = (rows: Float64Array[]) => Float64Array.from(rows.flatMap((x) => [...x]));

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const weights = randomWeights(config, 7, { std: 0.3, normJitter: 0.2 });
    w64 = new Map([...weights].map(([n, t]) => [n, Float64Array.from(float32Weight(t).dataSync())]));
    model = new LlamaModel(config, weights);
  });
  afterAll(() => {
    disposeWeights(model.weights);
    model.dispose();
  });

  it("PEFT's rules pick the modules, ranks and alphas the test expects", () => {
    const c = PEFT_CONFIG as PeftJson;
    expect(peftTargets('model.layers.1.self_attn.q_proj', c)).toBe(false);
    expect(peftRankAlpha('model.layers.2.self_attn.q_proj', c)).toEqual({ r: 6, alpha: 8 });
    expect(peftRankAlpha('model.layers.0.self_attn.q_proj', c)).toEqual({ r: 4, alpha: 12 });
    expect(peftRankAlpha('model.layers.0.mlp.down_proj', c)).toEqual({ r: 3, alpha: 8 });
    expect(peftRankAlpha('model.layers.2.mlp.down_proj', c)).toEqual({ r: 4, alpha: 8 });
    expect(peftRankAlpha('model.layers.2.self_attn.o_proj', c)).toEqual({ r: 4, alpha: 3 });
  });

  it('an imported adapter gives the logits of the float64 reference, unmerged and merged', async () => {
    const { bytes, modules } = peftWeights(PEFT_CONFIG as PeftJson, 3);
    expect(modules.size).toBe(8); // 4 modules × layers 0 and 2
    const adapter = await importPeft({ config: JSON.stringify(PEFT_CONFIG), weights: bytes }, config);
    try {
      expect([...adapter.layers.keys()].sort()).toEqual([...modules.keys()].sort());
      for (const [key, l] of adapter.layers) expect(l.scaling).toBe(modules.get(key)!.alpha / modules.get(key)!.r);
      const ref = flat(referenceLogits(RAW, mergedF64(w64, modules), ids));
      const base = flat(referenceLogits(RAW, w64, ids));
      // The adapter matters: the reference moved well beyond the tolerance.
      expect(maxRelativeError(base, ref)).toBeGreaterThan(1e-2);
      expect(maxRelativeError(ref, logitsOf(adapter))).toBeLessThan(1e-4);
      mergeAdapter(model.weights, adapter);
      try {
        expect(maxRelativeError(ref, logitsOf(null))).toBeLessThan(1e-4);
      } finally {
        unmergeAdapter(model.weights, adapter);
      }
      expect(maxRelativeError(base, logitsOf(null))).toBeLessThan(1e-4);
      expect(loraParameterCount(config, adapter.config)).toBe([...modules.values()].reduce((n, m) => n + m.a.length + m.b.length, 0));
    } finally {
      disposeAdapter(adapter);
    }
  });

  it('export writes the fields back and re-import gives the same adapter, byte for byte', async () => {
    const { bytes } = peftWeights(PEFT_CONFIG as PeftJson, 4);
    const adapter = await importPeft({ config: JSON.stringify(PEFT_CONFIG), weights: bytes }, config);
    const files = await exportPeft(adapter, 'tiny');
    const json = JSON.parse(files.config);
    expect(json.rank_pattern).toEqual(PEFT_CONFIG.rank_pattern);
    expect(Object.keys(json.rank_pattern)).toEqual(Object.keys(PEFT_CONFIG.rank_pattern)); // order decides ties
    expect(json.alpha_pattern).toEqual(PEFT_CONFIG.alpha_pattern);
    expect(json.layers_to_transform).toEqual([0, 2]);
    expect(json.layers_pattern).toBe('layers');
    expect(json.lora_alpha).toBe(8);
    const back = await importPeft(files, config);
    try {
      expect(await exportPeft(back, 'tiny')).toEqual(files);
      expect(logitsOf(back)).toEqual(logitsOf(adapter));
    } finally {
      disposeAdapter(back);
      disposeAdapter(adapter);
    }
  });

  it('a new adapter with patterns has each module at its own rank; a uniform one writes empty patterns', async () => {
    const made = createLoraAdapter(config, parsePeftConfig(JSON.stringify(PEFT_CONFIG)), mulberry32(1));
    expect(made.layers.get('model.layers.2.self_attn.q_proj')!.a.shape).toEqual([6, H]);
    expect(made.layers.get('model.layers.0.self_attn.v_proj')!.b.shape).toEqual([KV, 2]);
    expect(made.layers.has('model.layers.1.self_attn.q_proj')).toBe(false);
    disposeAdapter(made);
    const plain = createLoraAdapter(config, { r: 2, alpha: 4, dropout: 0, useRslora: false, targetModules: ['q_proj'] }, mulberry32(1));
    const json = JSON.parse((await exportPeft(plain, 'tiny')).config);
    expect(json).toMatchObject({ rank_pattern: {}, alpha_pattern: {}, layers_to_transform: null, layers_pattern: null });
    disposeAdapter(plain);
  });
});

describe('adapter_config.json fields read as PEFT reads them', () => {
  const parse = (extra: Record<string, unknown>) => parsePeftConfig(JSON.stringify({ peft_type: 'LORA', r: 16, target_modules: ['q_proj', 'v_proj'], ...extra }));

  it('a missing lora_alpha is PEFT\'s default 8, not r', () => {
    expect(parse({}).alpha).toBe(8);
    expect(parse({ lora_alpha: 32 }).alpha).toBe(32);
  });

  it('layers_to_transform as one index, layers_pattern as a list; a regex target_modules as modules × layers', () => {
    expect(parse({ layers_to_transform: 1 }).layersToTransform).toEqual([1]);
    expect(parse({ layers_to_transform: [0], layers_pattern: ['layers', 'h'] }).layersPattern).toEqual(['layers', 'h']);
    const re = parse({ target_modules: 'model\\.layers\\.[02]\\.self_attn\\.(q_proj|v_proj)' });
    expect(re.targetModules.sort()).toEqual(['q_proj', 'v_proj']);
    expect(re.layersToTransform).toEqual([0, 2]);
    expect(parse({ target_modules: '.*\\.(q_proj|o_proj)' })).toMatchObject({ targetModules: ['q_proj', 'o_proj'] });
    expect(parse({ target_modules: '.*\\.(q_proj|o_proj)' }).layersToTransform).toBeUndefined();
    expect(parse({ target_modules: 'all-linear' }).targetModules).toHaveLength(7);
    // As PEFT: with a regex, layers_to_transform is not applied (the regex chooses the layers).
    expect(parse({ target_modules: '.*\\.q_proj', layers_to_transform: [0] }).layersToTransform).toBeUndefined();
    expect(() => parse({ target_modules: 'model\\.layers\\.0\\.self_attn\\.q_proj|model\\.layers\\.1\\.mlp\\.up_proj' })).toThrow(/selects different modules in different layers/);
  });

  it.each([
    ['modules_to_save', ['lm_head']],
    ['use_dora', true],
    ['lora_bias', true],
    ['bias', 'all'],
    ['layer_replication', [[0, 2]]],
    ['trainable_token_indices', [5, 6]],
    ['target_parameters', ['mlp.experts.down_proj']],
    ['exclude_modules', ['q_proj']],
    ['init_lora_weights', 'pissa_niter_4'],
    ['use_qalora', true],
  ])('%s = %j is refused by name', (field, value) => {
    expect(() => parse({ [field]: value })).toThrow(AdapterError);
    expect(() => parse({ [field]: value })).toThrow(new RegExp(`adapter_config.json: ${field} .* is not supported: `));
  });

  it('defaults and empty values of those fields are accepted', () => {
    expect(() => parse({ modules_to_save: null, use_dora: false, lora_bias: false, layer_replication: null, trainable_token_indices: null, exclude_modules: null, init_lora_weights: 'gaussian', rank_pattern: {}, alpha_pattern: {} })).not.toThrow();
  });

  it('bad patterns name the field and the key', () => {
    expect(() => parse({ rank_pattern: { q_proj: 0 } })).toThrow(/rank_pattern gives "q_proj" the value 0/);
    expect(() => parse({ rank_pattern: { 'q_proj(': 4 } })).toThrow(/rank_pattern key "q_proj\(" is not a valid regular expression/);
    expect(() => parse({ alpha_pattern: { v_proj: 'x' } })).toThrow(/alpha_pattern must map module-name patterns to numbers/);
    expect(() => parse({ layers_to_transform: [-1] })).toThrow(/layers_to_transform holds -1/);
  });
});
