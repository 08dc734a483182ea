// One decoder for the Llama family (llama, mistral, qwen2, qwen3), read top to bottom:
// embeddings -> N × [RMSNorm -> GQA attention with RoPE -> residual -> RMSNorm -> SwiGLU -> residual]
// -> RMSNorm -> lm_head. Used unchanged for training, evaluation and generation.
// Every linear goes through `linear`, which adds the LoRA update when an adapter covers it.
import { tf } from '../tf';
import type { ModelConfig } from './config';
import type { WeightMap } from './weights';
import { loraDelta, type LoraAdapter } from '../lora/lora';
import { ropeTable, type RopeTable } from './rope';

/** Keys and values of earlier positions, per layer: [B, kvHeads, past, headDim]. */
// A type alias, not an interface, so tf.tidy accepts it as a TensorContainer.
export type PastKeyValues = {
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
};

export interface ForwardOptions {
  /** [B, past + T], 1 for real tokens and 0 for padding; absent means all real. */
  attentionMask?: tf.Tensor2D;
  past?: PastKeyValues;
  /** [B, T]; default: counted from the attention mask. Packed rows restart them per example. */
  positionIds?: tf.Tensor2D;
  adapter?: LoraAdapter | null;
  /** Enables LoRA dropout. */
  training?: boolean;
  /** Seeds LoRA dropout so a step is reproducible. */
  dropoutSeed?: number;
}

export interface ForwardResult {
  /** After the final norm: [B, T, hidden]. */
  hidden: tf.Tensor3D;
  /** Past plus this call's keys and values, for the next generation step. */
  present: PastKeyValues;
}

// Finite rather than -Infinity: a row with every key masked (left padding) must stay NaN-free.
const MASKED = -1e9;

export class LlamaModel {
  private rope: RopeTable | null = null;

  constructor(
    readonly config: ModelConfig,
    readonly weights: WeightMap,
  ) {}

  /** Final hidden states (call inside tf.tidy). */
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const [batch, seq] = inputIds.shape;
    const pastLen = opts.past?.keys[0]?.shape[2] ?? 0;
    const mask = opts.attentionMask ?? tf.ones([batch, pastLen + seq], 'int32');
    const positions = opts.positionIds ?? positionIds(mask, seq);
    const { cos, sin } = this.rotary(positions, pastLen + seq);
    const attnBias = attentionBias(mask, seq, pastLen);

    let h = tf.gather(this.w('model.embed_tokens.weight'), inputIds) as tf.Tensor3D;
    const present: PastKeyValues = { keys: [], values: [] };
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}.`;
      const attnIn = this.rmsNorm(h, `${p}input_layernorm.weight`);
      const { out, k, v } = this.attention(attnIn, p, cos, sin, attnBias, opts, i);
      present.keys.push(k);
      present.values.push(v);
      h = h.add(out);
      const mlpIn = this.rmsNorm(h, `${p}post_attention_layernorm.weight`);
      h = h.add(this.mlp(mlpIn, p, opts));
    }
    return { hidden: this.rmsNorm(h, 'model.norm.weight'), present };
  }

  /** Vocabulary logits for hidden states [..., hidden] -> [..., vocab]. */
  logits(hidden: tf.Tensor): tf.Tensor {
    const head = this.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
    const flat = hidden.reshape([-1, this.config.hiddenSize]);
    const logits = tf.matMul(flat, this.w(head), false, true);
    return logits.reshape([...hidden.shape.slice(0, -1), this.config.vocabSize]);
  }

  dispose(): void {
    this.rope?.cos.dispose();
    this.rope?.sin.dispose();
    this.rope = null;
  }

  private w(name: string): tf.Tensor {
    const t = this.weights.get(name);
    if (!t) throw new Error(`weight ${name} is not loaded`);
    return t;
  }

  private linear(x: tf.Tensor, name: string, opts: ForwardOptions): tf.Tensor {
    const w = this.w(`${name}.weight`);
    const flat = x.reshape([-1, x.shape[x.shape.length - 1]]);
    let y: tf.Tensor = tf.matMul(flat, w, false, true);
    const bias = this.weights.get(`${name}.bias`);
    if (bias) y = y.add(bias);
    y = y.reshape([...x.shape.slice(0, -1), w.shape[0]]);
    const lora = opts.adapter?.layers.get(name);
    if (lora && opts.adapter) {
      const p = opts.training ? opts.adapter.config.dropout : 0;
      // Each layer needs its own dropout mask: derive its seed from the step's seed and the name.
      const seed = opts.dropoutSeed === undefined ? undefined : opts.dropoutSeed * 7919 + hashName(name);
      y = y.add(loraDelta(x, lora, opts.adapter.scaling, p, seed));
    }
    return y;
  }

  private rmsNorm(x: tf.Tensor, weight: string): tf.Tensor3D {
    const variance = x.square().mean(-1, true);
    return x.mul(tf.rsqrt(variance.add(this.config.rmsNormEps))).mul(this.w(weight)) as tf.Tensor3D;
  }

  /**
   * cos/sin of each token's rotary angles, [B, 1, T, headDim], gathered from tables computed
   * in float64 on the host: GPU sin/cos are only accurate to ~2⁻¹¹ (Vulkan's bound), which
   * alone moved logits by 2.5e-4 relative on SwiftShader.
   */
  private rotary(positions: tf.Tensor2D, needed: number): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
    if (!this.rope || this.rope.length < needed) {
      this.dispose();
      this.rope = ropeTable(this.config, Math.max(needed, this.rope ? this.rope.length * 2 : 256));
    }
    const idx = positions.toInt();
    return {
      cos: tf.gather(this.rope.cos, idx).expandDims(1) as tf.Tensor4D,
      sin: tf.gather(this.rope.sin, idx).expandDims(1) as tf.Tensor4D,
    };
  }

  private attention(
    x: tf.Tensor3D,
    p: string,
    cos: tf.Tensor4D,
    sin: tf.Tensor4D,
    bias: tf.Tensor4D,
    opts: ForwardOptions,
    layer: number,
  ): { out: tf.Tensor3D; k: tf.Tensor4D; v: tf.Tensor4D } {
    const c = this.config;
    const [batch, seq] = x.shape;
    const d = c.headDim;
    const groups = c.numHeads / c.numKvHeads;
    const heads = (t: tf.Tensor, n: number) => t.reshape([batch, seq, n, d]);
    let q = heads(this.linear(x, `${p}self_attn.q_proj`, opts), c.numHeads);
    let k = heads(this.linear(x, `${p}self_attn.k_proj`, opts), c.numKvHeads);
    let v: tf.Tensor = heads(this.linear(x, `${p}self_attn.v_proj`, opts), c.numKvHeads);
    if (c.qkNorm) {
      q = this.rmsNorm(q as tf.Tensor3D, `${p}self_attn.q_norm.weight`);
      k = this.rmsNorm(k as tf.Tensor3D, `${p}self_attn.k_norm.weight`);
    }
    q = applyRope(q.transpose([0, 2, 1, 3]), cos, sin);
    k = applyRope(k.transpose([0, 2, 1, 3]), cos, sin);
    v = v.transpose([0, 2, 1, 3]);
    if (opts.past) {
      k = tf.concat([opts.past.keys[layer], k], 2);
      v = tf.concat([opts.past.values[layer], v], 2);
    }
    // GQA without repeating K/V: the query heads sharing a KV head are stacked along the
    // row axis, [B, kv, groups·T, d], so one batched matmul serves the whole group.
    const qg = q.reshape([batch, c.numKvHeads, groups * seq, d]);
    const scores = tf.matMul(qg, k, false, true).mul(1 / Math.sqrt(d));
    const groupBias = groups === 1 ? bias : tf.tile(bias, [1, 1, groups, 1]);
    const probs = tf.softmax(scores.add(groupBias));
    const ctx = tf.matMul(probs, v)
      .reshape([batch, c.numHeads, seq, d])
      .transpose([0, 2, 1, 3])
      .reshape([batch, seq, c.numHeads * d]);
    const out = this.linear(ctx, `${p}self_attn.o_proj`, opts) as tf.Tensor3D;
    return { out, k: k as tf.Tensor4D, v: v as tf.Tensor4D };
  }

  private mlp(x: tf.Tensor3D, p: string, opts: ForwardOptions): tf.Tensor3D {
    const gate = this.linear(x, `${p}mlp.gate_proj`, opts);
    const up = this.linear(x, `${p}mlp.up_proj`, opts);
    return this.linear(tf.mul(gate.mul(tf.sigmoid(gate)), up), `${p}mlp.down_proj`, opts) as tf.Tensor3D;
  }
}

/** x·cos + rotate_half(x)·sin, rotate_half(x) = [-x₂, x₁] over the two halves of head_dim. */
function applyRope(x: tf.Tensor, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor {
  const half = x.shape[3]! / 2;
  const [x1, x2] = tf.split(x, [half, half], 3);
  return x.mul(cos).add(tf.concat([x2.neg(), x1], 3).mul(sin));
}

/**
 * Position of each of the last `seq` tokens: the count of real tokens before it, so
 * left-padded prompts in a batch rotate exactly like unpadded ones (as HF's generate does).
 */
function positionIds(mask: tf.Tensor2D, seq: number): tf.Tensor2D {
  const total = mask.shape[1];
  const pos = tf.cumsum(mask.toFloat(), 1).sub(1).maximum(0);
  return pos.slice([0, total - seq], [-1, seq]) as tf.Tensor2D;
}

/** Additive attention bias [B, 1, T, past+T]: 0 where a query may look, MASKED elsewhere. */
function attentionBias(mask: tf.Tensor2D, seq: number, pastLen: number): tf.Tensor4D {
  const total = pastLen + seq;
  const rows = tf.range(pastLen, total, 1, 'int32').reshape([seq, 1]);
  const cols = tf.range(0, total, 1, 'int32').reshape([1, total]);
  const causal = tf.lessEqual(cols, rows).reshape([1, 1, seq, total]);
  const keyReal = tf.cast(mask, 'bool').reshape([mask.shape[0], 1, 1, total]);
  const allowed = tf.logicalAnd(causal, keyReal);
  return tf.where(allowed, tf.zerosLike(allowed).toFloat(), tf.fill(allowed.shape, MASKED)) as tf.Tensor4D;
}

function hashName(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 1_000_003;
  return h;
}
