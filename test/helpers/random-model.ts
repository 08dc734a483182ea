// Real model shapes with random weights: tests and benchmarks exercise the decoder at the sizes
// users load (SmolLM2, Qwen2.5) without downloading gigabytes, and tiny configs switch on every
// family feature (q/k/v bias, q/k norm, explicit head_dim, llama3 rope scaling) at a cost of
// milliseconds.
import { float32Weight } from '../../kernels/half';
import { tf } from '../../src/engine/tf';
import { expectedTensorShapes, parameterCount, parseModelConfig, type ModelConfig } from '../../src/engine/model/config';
import { writeSafetensors } from '../../src/engine/model/safetensors';
import { bytesSource } from '../../src/engine/model/byte-source';
import type { ModelParts } from '../../src/engine/model/load';
import type { TextTokenizer } from '../../src/engine/model/tokenizer';
import type { WeightMap } from '../../src/engine/model/weights';
import MODEL_CONFIGS from '../../bench/model-configs.json';

/** A config.json as the hub serves it (snake_case keys, model_type). Frozen: tests spread to vary it. */
export type HubConfig = Readonly<Record<string, unknown>>;

// The full-size configs are defined once, in bench/model-configs.json: JSON because the PyTorch
// peer (bench/torch_peer.py) reads the same file; the benchmark (bench/lib/models.ts) and these
// tests import it. They keep the published keys a decoder reads (architectures, torch_dtype and
// transformers_version are left out). Checked with the project's `search` tool against copies of
// the hub files, since the hub itself is not reachable from here:
//   SmolLM2-360M: huggingface.co/HuggingFaceTB/SmolLM2-360M/blob/3ce05f63c246c44616da500b47b01f082f4d3bcc/config.json
//   SmolLM2-135M: fine-tunes that carry the base file unchanged ("_name_or_path":
//     "HuggingFaceTB/SmolLM2-135M"), e.g. huggingface.co/MaxBlumenfeld/smollm2-135m-bootleg-instruct02
//     (head_dim 64, rope_theta 100000, max_position_embeddings 8192, bos/eos 0).
//   Qwen2.5-0.5B: a "# Qwen/Qwen2.5-0.5B" config dump and mirrors such as
//     huggingface.co/osllmai-community/Qwen2.5-0.5B; the model card's "0.49B (0.36B non-embedding)"
//     is what parameterCount gives (494,032,768 and 357,898,112).
const benchConfig = (id: keyof typeof MODEL_CONFIGS): HubConfig => Object.freeze({ ...MODEL_CONFIGS[id].config });

export const SMOLLM2_135M = benchConfig('smollm2-135m');
export const SMOLLM2_360M = benchConfig('smollm2-360m');
export const QWEN2_5_0_5B = benchConfig('qwen2.5-0.5b');
/**
 * Gemma 3 270M (google/gemma-3-270m, config.json of transformers 4.55): 18 layers, 5 sliding
 * (window 512, rope_local_base_freq 10000) to 1 full (rope_theta 1e6), 4 heads of 256 on 1 KV
 * head, query_pre_attn_scalar 256, vocabulary 262,144, tied; 268,098,176 parameters.
 */
export const GEMMA3_270M = benchConfig('gemma3-270m');

// Tiny configs: 2 layers and GQA ratio 2 everywhere, so head grouping is exercised; untied heads
// on some so lm_head is too.

/** Qwen2-style: q/k/v biases (implied by model_type), no o_proj bias. */
export const TINY_QWEN2: HubConfig = Object.freeze({
  model_type: 'qwen2',
  hidden_act: 'silu',
  hidden_size: 32,
  intermediate_size: 48,
  num_attention_heads: 4,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 10000.0,
  max_position_embeddings: 128,
  tie_word_embeddings: true,
  vocab_size: 64,
  bos_token_id: 1,
  eos_token_id: 2,
});

/** Qwen3-style: per-head q/k RMSNorm, and head_dim 16 where hidden/heads would give 8. */
export const TINY_QWEN3: HubConfig = Object.freeze({
  model_type: 'qwen3',
  attention_bias: false,
  head_dim: 16,
  hidden_act: 'silu',
  hidden_size: 32,
  intermediate_size: 48,
  num_attention_heads: 4,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  rope_scaling: null,
  max_position_embeddings: 128,
  tie_word_embeddings: false,
  vocab_size: 64,
  bos_token_id: 1,
  eos_token_id: [2, 3],
});

/**
 * Llama 3.x style rope_scaling (as Llama-3.2 writes it, with a smaller head): head_dim 8 at theta
 * 500000 gives wavelengths 6, 167, 4443 and 118000 positions, so with high_freq_factor 8 the
 * bands (< 1024 kept, 1024..8192 interpolated, > 8192 slowed by `factor`) each get a frequency.
 */
export const TINY_LLAMA3: HubConfig = Object.freeze({
  model_type: 'llama',
  attention_bias: false,
  hidden_act: 'silu',
  hidden_size: 32,
  intermediate_size: 48,
  num_attention_heads: 4,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  rope_theta: 500000.0,
  rope_scaling: {
    factor: 8.0,
    high_freq_factor: 8.0,
    low_freq_factor: 1.0,
    original_max_position_embeddings: 8192,
    rope_type: 'llama3',
  },
  max_position_embeddings: 131072,
  mlp_bias: false,
  tie_word_embeddings: false,
  vocab_size: 64,
  bos_token_id: 1,
  eos_token_id: 2,
});

/**
 * Gemma 3 as 270M writes it (layer_types), shrunk: sliding, full, sliding with a window of 3, so a
 * 6-token sequence crosses the window; head_dim 16 ≠ 32/4 and query_pre_attn_scalar 24 ≠ 16, so
 * neither can stand in for the other; local and global RoPE bases differ.
 */
export const TINY_GEMMA3: HubConfig = Object.freeze({
  model_type: 'gemma3_text',
  attention_bias: false,
  attn_logit_softcapping: null,
  final_logit_softcapping: null,
  head_dim: 16,
  hidden_activation: 'gelu_pytorch_tanh',
  hidden_size: 32,
  intermediate_size: 48,
  layer_types: ['sliding_attention', 'full_attention', 'sliding_attention'],
  max_position_embeddings: 128,
  num_attention_heads: 4,
  num_hidden_layers: 3,
  num_key_value_heads: 2,
  query_pre_attn_scalar: 24,
  rms_norm_eps: 1e-6,
  rope_local_base_freq: 10000.0,
  rope_scaling: null,
  rope_theta: 1000000.0,
  sliding_window: 3,
  tie_word_embeddings: true,
  vocab_size: 64,
  bos_token_id: 2,
  eos_token_id: 1,
  pad_token_id: 0,
});

/**
 * Gemma 3 as its older configs (1B) write it: no layer_types but sliding_window_pattern (every
 * 2nd layer full here, 6th there); linear rope_scaling ×8, which Gemma 3's long-context configs
 * apply to the full layers only; a list of EOS ids; 1 KV head.
 */
export const TINY_GEMMA3_PATTERN: HubConfig = Object.freeze({
  model_type: 'gemma3_text',
  head_dim: 8,
  hidden_activation: 'gelu_pytorch_tanh',
  hidden_size: 24,
  intermediate_size: 40,
  max_position_embeddings: 128,
  num_attention_heads: 2,
  num_hidden_layers: 4,
  num_key_value_heads: 1,
  query_pre_attn_scalar: 8,
  rms_norm_eps: 1e-6,
  rope_local_base_freq: 10000.0,
  rope_scaling: { factor: 8.0, rope_type: 'linear' },
  rope_theta: 1000000.0,
  sliding_window: 2,
  sliding_window_pattern: 2,
  vocab_size: 64,
  bos_token_id: 2,
  eos_token_id: [1, 6],
  pad_token_id: 0,
});

export interface RandomWeightOptions {
  /** Std of matrices and embeddings (0.02, HF's initializer_range for most of these models). */
  std?: number;
  /** Std of biases; default `std`. Nonzero, so a bias that is loaded but never added shows up. */
  biasStd?: number;
  /**
   * Norm weights are HF's init plus N(0, normJitter²); 0 (the default) gives HF's init exactly:
   * 1, or 0 for Gemma 3, whose norms scale by 1 + w.
   */
  normJitter?: number;
}

const isNorm = (name: string) => /norm\.weight$/.test(name);
const isBias = (name: string) => name.endsWith('.bias');

/**
 * Every tensor expectedTensorShapes asks for, drawn directly as tf tensors (no safetensors round
 * trip: Qwen2.5-0.5B is 2 GB of float32 and builds in seconds this way). Each tensor has its own
 * seed derived from `seed` and its position, so the result is the same on every run and backend.
 * Call outside tf.tidy (or tf.keep the tensors); release with disposeWeights.
 */
export function randomWeights(config: ModelConfig, seed: number, opts: RandomWeightOptions = {}): WeightMap {
  const std = opts.std ?? 0.02;
  const biasStd = opts.biasStd ?? std;
  const jitter = opts.normJitter ?? 0;
  const normInit = config.family === 'gemma3' ? 0 : 1;
  const weights: WeightMap = new Map();
  let index = 0;
  for (const [name, shape] of expectedTensorShapes(config)) {
    // Seeds spaced apart so neighbouring tensors of neighbouring seeds never share a stream.
    const s = seed * 1_000_003 + index++;
    const t = isNorm(name)
      ? jitter === 0
        ? tf.fill(shape, normInit)
        : tf.randomNormal(shape, normInit, jitter, 'float32', s)
      : tf.randomNormal(shape, 0, isBias(name) ? biasStd : std, 'float32', s);
    weights.set(name, t);
  }
  return weights;
}

/** Above this, a safetensors image is a waste of memory and time: use randomWeights. */
const MAX_SAFETENSORS_PARAMS = 20_000_000;

/** The same values randomWeights gives, as host arrays in checkpoint order, ready to edit and write. */
export function randomTensors(
  config: ModelConfig,
  seed: number,
  opts: RandomWeightOptions = {},
): Array<{ name: string; shape: number[]; data: Float32Array }> {
  const n = parameterCount(config);
  if (n > MAX_SAFETENSORS_PARAMS) {
    throw new Error(`randomTensors: ${n} parameters is too many for an in-memory file; use randomWeights`);
  }
  const weights = randomWeights(config, seed, opts);
  try {
    return [...weights].map(([name, t]) => ({ name, shape: t.shape, data: float32Weight(t).dataSync() as Float32Array }));
  } finally {
    for (const t of weights.values()) t.dispose();
  }
}

/** An F32 model.safetensors image of a small config; loading it gives randomWeights(config, seed, opts). */
export function randomSafetensors(config: ModelConfig, seed: number, opts: RandomWeightOptions = {}): Uint8Array {
  return writeSafetensors(randomTensors(config, seed, opts));
}

/** Stands in where a LoadedModel needs a tokenizer but the test only runs tensors. */
export function placeholderTokenizer(vocabSize: number): TextTokenizer {
  const none = (): never => {
    throw new Error('placeholder tokenizer: this random model has no real vocabulary');
  };
  return {
    encode: none,
    decode: none,
    bosTokenId: null,
    eosTokenId: null,
    padTokenId: null,
    vocabSize,
    chatTemplate: null,
    applyChatTemplate: none,
  };
}

/** Everything loadModel needs for a small random model, the weights as an in-memory file. */
export function randomModelParts(raw: HubConfig, seed: number, opts: RandomWeightOptions = {}): ModelParts {
  const config = parseModelConfig({ ...raw });
  return {
    name: `random-${String(raw.model_type)}-${seed}`,
    config: { ...raw },
    tokenizer: placeholderTokenizer(config.vocabSize),
    weights: bytesSource('model.safetensors', randomSafetensors(config, seed, opts)),
  };
}
