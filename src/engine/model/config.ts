// Hugging Face config.json -> the one typed config the decoder reads.
// The families differ only in small switches (q/k/v bias, q/k norm, rope scaling),
// so one decoder serves all of them; anything else is refused up front.
import { layerLinears, linearPath } from './linears';

export const SUPPORTED_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'qwen3'] as const;
export type ModelFamily = (typeof SUPPORTED_MODEL_TYPES)[number];

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
  /** per-head RMSNorm on q and k before RoPE (qwen3). */
  qkNorm: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;

function num(raw: Json, key: string, fallback?: number): number {
  const v = raw[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`config.json: missing required field "${key}"`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ConfigError(`config.json: field "${key}" must be a number, got ${JSON.stringify(v)}`);
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

function parseRopeScaling(raw: Json): RopeScaling | null {
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
    `config.json: rope_scaling type "${type}" is not supported (supported: linear, llama3, or none)`,
  );
}

export function parseModelConfig(raw: Json): ModelConfig {
  const modelType = raw.model_type as string | undefined;
  if (!modelType || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new ConfigError(
      `config.json: model_type "${modelType ?? '(missing)'}" is not supported. ` +
        `Supported model types: ${SUPPORTED_MODEL_TYPES.join(', ')}.`,
    );
  }
  const family = modelType as ModelFamily;
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
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ConfigError(`config.json: head_dim ${headDim} must be an even integer for RoPE`);
  }
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
    bosTokenId: optionalId(raw.bos_token_id),
    eosTokenIds: idList(raw.eos_token_id),
    padTokenId: optionalId(raw.pad_token_id),
  };
}

/** Name -> shape of every tensor the checkpoint must provide (HF names, PyTorch [out, in] layout). */
export function expectedTensorShapes(c: ModelConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  shapes.set('model.embed_tokens.weight', [c.vocabSize, c.hiddenSize]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    shapes.set(`${p}input_layernorm.weight`, [c.hiddenSize]);
    shapes.set(`${p}post_attention_layernorm.weight`, [c.hiddenSize]);
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

/** Parameter count of the base model (tied embeddings counted once). */
export function parameterCount(c: ModelConfig): number {
  let n = 0;
  for (const shape of expectedTensorShapes(c).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

// Kept importable from here: the trainer and the benchmark tune the frozen matmuls of these shapes.
export { linearShapes } from './linears';
