// Hugging Face config.json -> the one typed config the decoders read.
// The Llama family (llama, mistral, qwen2, qwen3) differs only in small switches (q/k/v bias,
// q/k norm, rope scaling) and runs on model/llama.ts; Gemma 3 adds sliding-window layers, a
// second RoPE base and its own norms and MLP, and runs on model/gemma3.ts. Anything else is
// refused up front, naming config.json and the field.
import { layerLinears, linearPath } from './linears';

export const SUPPORTED_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma3_text', 'gemma3'] as const;
/** The decoder a config runs on: the model_type, except that both Gemma 3 types are 'gemma3'. */
export type ModelFamily = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'gemma3';

export const LAYER_TYPES = ['full_attention', 'sliding_attention'] as const;
export type LayerType = (typeof LAYER_TYPES)[number];
export const HIDDEN_ACTIVATIONS = ['silu', 'gelu_pytorch_tanh'] as const;
export type HiddenActivation = (typeof HIDDEN_ACTIVATIONS)[number];

export interface RopeScaling {
  type: 'linear' | 'llama3';
  factor: number;
  /** llama3 only */
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

export interface ModelConfig {
  family: ModelFamily;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q_proj/k_proj/v_proj carry a bias (qwen2, or llama with attention_bias). */
  attentionBias: boolean;
  /** o_proj carries a bias (llama attention_bias). */
  outputBias: boolean;
  mlpBias: boolean;
  /** per-head RMSNorm on q and k before RoPE (qwen3, gemma3). */
  qkNorm: boolean;
  /** The MLP's gate activation: silu (SwiGLU) or gelu_pytorch_tanh (Gemma's GeGLU). */
  hiddenAct: HiddenActivation;
  /** Per layer; all 'full_attention' outside Gemma 3. */
  layerTypes: LayerType[];
  /** Keys a sliding_attention layer's query sees, itself included; null when no layer slides. */
  slidingWindow: number | null;
  /** Multiplies q·kᵀ: 1/√headDim, Gemma 3's 1/√query_pre_attn_scalar. */
  attentionScale: number;
  /** RoPE base of the sliding_attention layers (Gemma 3's rope_local_base_freq, never scaled); null: they use ropeTheta. */
  ropeLocalTheta: number | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;

/** `where` names nested fields as written in config.json, e.g. "text_config.". */
function num(raw: Json, key: string, fallback?: number, where = ''): number {
  const v = raw[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`config.json: missing required field "${where}${key}"`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ConfigError(`config.json: field "${where}${key}" must be a number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function optionalId(v: unknown): number | null {
  return typeof v === 'number' ? v : null;
}

function idList(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

function parseRopeScaling(raw: Json, field = 'rope_scaling'): RopeScaling | null {
  const rs = raw.rope_scaling as Json | null | undefined;
  if (!rs) return null;
  const type = (rs.rope_type ?? rs.type) as string | undefined;
  if (type === 'default') return null;
  if (type === 'linear') return { type, factor: num(rs, 'factor') };
  if (type === 'llama3') {
    return {
      type,
      factor: num(rs, 'factor'),
      lowFreqFactor: num(rs, 'low_freq_factor', 1),
      highFreqFactor: num(rs, 'high_freq_factor', 4),
      originalMaxPositionEmbeddings: num(rs, 'original_max_position_embeddings', 8192),
    };
  }
  throw new ConfigError(
    `config.json: ${field} type "${type}" is not supported (supported: linear, llama3, or none)`,
  );
}

/**
 * `generation` is generation_config.json when the model has one: its eos_token_id (Gemma's
 * instruction-tuned models list <end_of_turn> there) joins config.json's.
 */
export function parseModelConfig(raw: Json, generation?: Json | null): ModelConfig {
  const modelType = raw.model_type as string | undefined;
  if (!modelType || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new ConfigError(
      `config.json: model_type "${modelType ?? '(missing)'}" is not supported. ` +
        `Supported model types: ${SUPPORTED_MODEL_TYPES.join(', ')}.`,
    );
  }
  const config = modelType === 'gemma3' || modelType === 'gemma3_text' ? parseGemma3(raw) : parseLlama(raw);
  const generationEos = idList(generation?.eos_token_id).filter((id) => !config.eosTokenIds.includes(id));
  return generationEos.length ? { ...config, eosTokenIds: [...config.eosTokenIds, ...generationEos] } : config;
}

function parseLlama(raw: Json): ModelConfig {
  const family = raw.model_type as ModelFamily;
  const act = (raw.hidden_act ?? raw.hidden_activation ?? 'silu') as string;
  if (act !== 'silu' && act !== 'swish') {
    throw new ConfigError(`config.json: hidden_act "${act}" is not supported (supported: silu)`);
  }
  const hiddenSize = num(raw, 'hidden_size');
  const numHeads = num(raw, 'num_attention_heads');
  const numKvHeads = num(raw, 'num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ConfigError(
      `config.json: num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`,
    );
  }
  const headDim = num(raw, 'head_dim', hiddenSize / numHeads);
  checkHeadDim(headDim);
  const attentionBias = family === 'qwen2' || raw.attention_bias === true;
  return {
    family,
    vocabSize: num(raw, 'vocab_size'),
    hiddenSize,
    intermediateSize: num(raw, 'intermediate_size'),
    numLayers: num(raw, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num(raw, 'rms_norm_eps', 1e-6),
    ropeTheta: num(raw, 'rope_theta', 10000),
    ropeScaling: parseRopeScaling(raw),
    maxPositionEmbeddings: num(raw, 'max_position_embeddings', 2048),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    attentionBias,
    outputBias: family !== 'qwen2' && raw.attention_bias === true,
    mlpBias: raw.mlp_bias === true,
    qkNorm: family === 'qwen3',
    hiddenAct: 'silu',
    layerTypes: new Array<LayerType>(num(raw, 'num_hidden_layers')).fill('full_attention'),
    slidingWindow: null,
    attentionScale: 1 / Math.sqrt(headDim),
    ropeLocalTheta: null,
    bosTokenId: optionalId(raw.bos_token_id),
    eosTokenIds: idList(raw.eos_token_id),
    padTokenId: optionalId(raw.pad_token_id),
  };
}

function checkHeadDim(headDim: number, where = ''): void {
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ConfigError(`config.json: ${where}head_dim ${headDim} must be an even integer for RoPE`);
  }
}

/**
 * Gemma 3, as transformers' Gemma3TextConfig reads it: gemma3_text at the top level, or the
 * text_config of a gemma3 (multimodal) config. Defaults are that class's, which the nested
 * configs rely on (they write only what differs), except that a model with sliding layers must
 * give sliding_window: a config without it is damaged, and guessing 4096 would silently change
 * what every sliding layer sees.
 */
function parseGemma3(top: Json): ModelConfig {
  const nested = top.model_type === 'gemma3';
  const where = nested ? 'text_config.' : '';
  if (nested && (typeof top.text_config !== 'object' || top.text_config === null)) {
    throw new ConfigError('config.json: model_type "gemma3" needs a "text_config" object (the language model\'s settings)');
  }
  const raw = nested ? (top.text_config as Json) : top;
  const field = (key: string, fallback?: number) => num(raw, key, fallback, where);

  const act = (raw.hidden_activation ?? raw.hidden_act ?? 'gelu_pytorch_tanh') as string;
  if (act !== 'gelu_pytorch_tanh') {
    throw new ConfigError(`config.json: ${where}hidden_activation "${act}" is not supported for Gemma 3 (supported: gelu_pytorch_tanh)`);
  }
  for (const key of ['attn_logit_softcapping', 'final_logit_softcapping']) {
    if (raw[key] !== undefined && raw[key] !== null) {
      throw new ConfigError(`config.json: ${where}${key} ${JSON.stringify(raw[key])} is not supported (Gemma 3 has none: null)`);
    }
  }
  if (raw.use_bidirectional_attention === true) {
    throw new ConfigError(`config.json: ${where}use_bidirectional_attention is true (an embedding model); only causal decoders are supported`);
  }
  const numLayers = field('num_hidden_layers');
  const layerTypes = gemma3LayerTypes(raw, numLayers, where);
  const slides = layerTypes.includes('sliding_attention');
  const slidingWindow = slides ? field('sliding_window') : null;
  if (slidingWindow !== null && !(Number.isInteger(slidingWindow) && slidingWindow >= 1)) {
    throw new ConfigError(`config.json: ${where}sliding_window must be a positive integer, got ${slidingWindow}`);
  }
  const hiddenSize = field('hidden_size');
  const numHeads = field('num_attention_heads', 8);
  const numKvHeads = field('num_key_value_heads', 4);
  if (numHeads % numKvHeads !== 0) {
    throw new ConfigError(
      `config.json: ${where}num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`,
    );
  }
  const headDim = field('head_dim', 256);
  checkHeadDim(headDim, where);
  const rope = gemma3Rope(raw, where);
  const bias = raw.attention_bias === true;
  return {
    family: 'gemma3',
    vocabSize: field('vocab_size', 262_208),
    hiddenSize,
    intermediateSize: field('intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: field('rms_norm_eps', 1e-6),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    maxPositionEmbeddings: field('max_position_embeddings', 131_072),
    // Gemma3TextConfig ties by default; Gemma3Config (multimodal) keeps the flag at its top level.
    tieWordEmbeddings: (nested ? top : raw).tie_word_embeddings !== false,
    attentionBias: bias,
    outputBias: bias,
    mlpBias: false,
    qkNorm: true,
    hiddenAct: 'gelu_pytorch_tanh',
    layerTypes,
    slidingWindow,
    attentionScale: 1 / Math.sqrt(field('query_pre_attn_scalar', 256)),
    ropeLocalTheta: rope.localTheta,
    bosTokenId: optionalId(raw.bos_token_id ?? top.bos_token_id ?? 2),
    eosTokenIds: idList(raw.eos_token_id ?? top.eos_token_id ?? 1),
    padTokenId: optionalId(raw.pad_token_id ?? top.pad_token_id ?? 0),
  };
}

/**
 * layer_types as written, or — for configs from before it existed (Gemma 3 1B) — transformers'
 * rule: every sliding_window_pattern-th layer (default 6) is full, the others slide.
 */
function gemma3LayerTypes(raw: Json, numLayers: number, where: string): LayerType[] {
  const given = raw.layer_types;
  if (given === undefined || given === null) {
    const pattern = num(raw, 'sliding_window_pattern', num(raw, '_sliding_window_pattern', 6, where), where);
    if (!(Number.isInteger(pattern) && pattern >= 1)) {
      throw new ConfigError(`config.json: ${where}sliding_window_pattern must be a positive integer, got ${pattern}`);
    }
    return Array.from({ length: numLayers }, (_, i) => ((i + 1) % pattern === 0 ? 'full_attention' : 'sliding_attention'));
  }
  if (!Array.isArray(given)) throw new ConfigError(`config.json: ${where}layer_types must be a list, got ${JSON.stringify(given)}`);
  given.forEach((t, i) => {
    if (!(LAYER_TYPES as readonly unknown[]).includes(t)) {
      throw new ConfigError(
        `config.json: ${where}layer_types[${i}] is ${JSON.stringify(t)}, which is not a supported layer type (supported: ${LAYER_TYPES.join(', ')})`,
      );
    }
  });
  if (given.length !== numLayers) {
    throw new ConfigError(`config.json: ${where}layer_types has ${given.length} entries but num_hidden_layers is ${numLayers}`);
  }
  return given as LayerType[];
}

/**
 * The two RoPEs: full layers rope_theta with rope_scaling (Gemma 3 1B: linear ×8), sliding layers
 * rope_local_base_freq unscaled (Gemma3TextModel's rotary_emb_local). transformers 5 writes both
 * as rope_parameters {full_attention: {...}, sliding_attention: {...}} instead.
 */
function gemma3Rope(raw: Json, where: string): { theta: number; scaling: RopeScaling | null; localTheta: number } {
  const params = raw.rope_parameters as Json | null | undefined;
  if (params && typeof params === 'object' && ('full_attention' in params || 'sliding_attention' in params)) {
    const full = (params.full_attention ?? {}) as Json;
    const local = (params.sliding_attention ?? {}) as Json;
    const localScaling = parseRopeScaling({ rope_scaling: { rope_type: 'default', ...local } }, `${where}rope_parameters.sliding_attention`);
    if (localScaling) {
      throw new ConfigError(`config.json: ${where}rope_parameters.sliding_attention rope_type "${localScaling.type}" is not supported (Gemma 3's local RoPE is unscaled)`);
    }
    return {
      theta: num(full, 'rope_theta', 1_000_000, `${where}rope_parameters.full_attention.`),
      scaling: parseRopeScaling({ rope_scaling: { rope_type: 'default', ...full } }, `${where}rope_parameters.full_attention`),
      localTheta: num(local, 'rope_theta', 10_000, `${where}rope_parameters.sliding_attention.`),
    };
  }
  return {
    theta: num(raw, 'rope_theta', 1_000_000, where),
    scaling: parseRopeScaling(raw, `${where}rope_scaling`),
    localTheta: num(raw, 'rope_local_base_freq', 10_000, where),
  };
}

/** Name -> shape of every tensor the checkpoint must provide (HF names, PyTorch [out, in] layout). */
export function expectedTensorShapes(c: ModelConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  shapes.set('model.embed_tokens.weight', [c.vocabSize, c.hiddenSize]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    for (const norm of layerNorms(c)) shapes.set(`${p}${norm}.weight`, [c.hiddenSize]);
    for (const parent of ['self_attn', 'mlp'] as const) {
      const linears = layerLinears(c).filter((l) => l.parent === parent);
      for (const l of linears) shapes.set(`${linearPath(i, l)}.weight`, [l.out, l.in]);
      for (const l of linears) if (l.bias) shapes.set(`${linearPath(i, l)}.bias`, [l.out]);
      if (parent === 'self_attn' && c.qkNorm) {
        shapes.set(`${p}self_attn.q_norm.weight`, [c.headDim]);
        shapes.set(`${p}self_attn.k_norm.weight`, [c.headDim]);
      }
    }
  }
  shapes.set('model.norm.weight', [c.hiddenSize]);
  if (!c.tieWordEmbeddings) shapes.set('lm_head.weight', [c.vocabSize, c.hiddenSize]);
  return shapes;
}

/** The hidden-size norms of a layer: Gemma 3 also norms each sublayer's output and the MLP's input. */
export function layerNorms(c: Pick<ModelConfig, 'family'>): string[] {
  return c.family === 'gemma3'
    ? ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm']
    : ['input_layernorm', 'post_attention_layernorm'];
}

/** Parameter count of the base model (tied embeddings counted once). */
export function parameterCount(c: ModelConfig): number {
  let n = 0;
  for (const shape of expectedTensorShapes(c).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

// Kept importable from here: the trainer and the benchmark tune the frozen matmuls of these shapes.
export { linearShapes } from './linears';
