// One decoder for the Llama family (llama, mistral, qwen2, qwen3), read top to bottom:
// embeddings -> N × [RMSNorm -> GQA attention with RoPE -> residual -> RMSNorm -> SwiGLU -> residual]
// -> RMSNorm -> lm_head. Used unchanged for training, evaluation and generation.
// Every linear goes through `linear`, which adds the LoRA update when an adapter covers it.
import { tf } from '../tf';
import type { ModelConfig } from './config';
import type { WeightMap } from './weights';
import { loraDelta, type LoraAdapter } from '../lora/lora';
import { ropeTable, type RopeTable } from './rope';
// Fused WGSL kernels behind a switch (kernels/README.md): each op below runs its stock TF.js
// composition unless setKernelMode('fused') is on and the backend is webgpu.
import { addRmsNorm, attentionBias, causalAttention, fusedActive, loraLinear, loraLinearGroup, rmsNorm, ropeQkv, swiglu } from '../../../kernels';

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
    // The fused attention kernel reads the mask itself; only stock ops need the [B, 1, T, S] bias.
    const attnBias = fusedActive() ? null : attentionBias(mask, seq, pastLen);

    let h = tf.gather(this.w('model.embed_tokens.weight'), inputIds) as tf.Tensor3D;
    const present: PastKeyValues = { keys: [], values: [] };
    // Each residual add is taken together with the norm that follows it (one fused kernel), so
    // `normed` always holds the next sublayer's input: layer i's input norm, its post-attention
    // norm, and after the last layer the final norm.
    let normed = this.rmsNorm(h, 'model.layers.0.input_layernorm.weight');
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}.`;
      const { out, k, v } = this.attention(normed, p, cos, sin, attnBias, mask, opts, i);
      present.keys.push(k);
      present.values.push(v);
      ({ sum: h, normed } = this.addNorm(h, out, `${p}post_attention_layernorm.weight`));
      const next = i + 1 < c.numLayers ? `model.layers.${i + 1}.input_layernorm.weight` : 'model.norm.weight';
      ({ sum: h, normed } = this.addNorm(h, this.mlp(normed, p, opts), next));
    }
    return { hidden: normed, present };
  }

  /** Vocabulary logits for hidden states [..., hidden] -> [..., vocab]. */
  logits(hidden: tf.Tensor): tf.Tensor {
    const flat = hidden.reshape([-1, this.config.hiddenSize]);
    const logits = tf.matMul(flat, this.headWeight(), false, true);
    return logits.reshape([...hidden.shape.slice(0, -1), this.config.vocabSize]);
  }

  /** The lm_head weight [vocab, hidden] (the embedding matrix when tied). */
  headWeight(): tf.Tensor2D {
    return this.w(this.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight') as tf.Tensor2D;
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
    const bias = this.weights.get(`${name}.bias`);
    const lora = opts.adapter?.layers.get(name);
    const p = opts.training && opts.adapter ? opts.adapter.config.dropout : 0;
    // Each layer needs its own dropout mask: derive its seed from the step's seed and the name.
    const seed = opts.dropoutSeed === undefined ? undefined : opts.dropoutSeed * 7919 + hashName(name);
    if (lora && opts.adapter && fusedActive()) {
      // The frozen matmul and the low-rank update in one pass (kernels/lora-linear.ts).
      const xd = p > 0 ? tf.dropout(x, p, undefined, seed) : x;
      const y = loraLinear(x, w, lora.a, lora.b, opts.adapter.scaling, xd);
      return bias ? y.add(bias) : y;
    }
    const flat = x.reshape([-1, x.shape[x.shape.length - 1]]);
    let y: tf.Tensor = tf.matMul(flat, w, false, true);
    if (bias) y = y.add(bias);
    y = y.reshape([...x.shape.slice(0, -1), w.shape[0]]);
    if (lora && opts.adapter) y = y.add(loraDelta(x, lora, opts.adapter.scaling, p, seed));
    return y;
  }

  /**
   * Linears of one input (q/k/v, gate/up). Fused, when LoRA covers each of them with one rank
   * and no dropout or bias is in play, they run as one grouped op (kernels/lora-linear.ts).
   */
  private linears(x: tf.Tensor, names: string[], opts: ForwardOptions): tf.Tensor[] {
    const adapter = opts.adapter;
    const layers = names.map((n) => adapter?.layers.get(n));
    const grouped =
      adapter &&
      fusedActive() &&
      !(opts.training && adapter.config.dropout > 0) &&
      layers.every((l) => l && l.a.shape[0] === layers[0]!.a.shape[0]) &&
      names.every((n) => !this.weights.has(`${n}.bias`));
    if (!grouped) return names.map((n) => this.linear(x, n, opts));
    const parts = names.map((n, i) => ({ w: this.w(`${n}.weight`), a: layers[i]!.a, b: layers[i]!.b }));
    return loraLinearGroup(x, parts, adapter.scaling);
  }

  private rmsNorm(x: tf.Tensor, weight: string): tf.Tensor3D {
    return rmsNorm(x, this.w(weight), this.config.rmsNormEps) as tf.Tensor3D;
  }

  /** The residual add h + delta and the RMSNorm of the sum. */
  private addNorm(h: tf.Tensor3D, delta: tf.Tensor, weight: string): { sum: tf.Tensor3D; normed: tf.Tensor3D } {
    return addRmsNorm(h, delta, this.w(weight), this.config.rmsNormEps);
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
    bias: tf.Tensor4D | null,
    mask: tf.Tensor2D,
    opts: ForwardOptions,
    layer: number,
  ): { out: tf.Tensor3D; k: tf.Tensor4D; v: tf.Tensor4D } {
    const c = this.config;
    const [batch, seq] = x.shape;
    const d = c.headDim;
    const heads = (t: tf.Tensor, n: number) => t.reshape([batch, seq, n, d]);
    const proj = this.linears(x, [`${p}self_attn.q_proj`, `${p}self_attn.k_proj`, `${p}self_attn.v_proj`], opts);
    let q = heads(proj[0], c.numHeads);
    let k = heads(proj[1], c.numKvHeads);
    const vTokens = heads(proj[2], c.numKvHeads);
    if (c.qkNorm) {
      q = this.rmsNorm(q as tf.Tensor3D, `${p}self_attn.q_norm.weight`);
      k = this.rmsNorm(k as tf.Tensor3D, `${p}self_attn.k_norm.weight`);
    }
    // Heads-first [B, heads, T, d], q and k rotated.
    let v: tf.Tensor;
    ({ q, k, v } = ropeQkv(q as tf.Tensor4D, k as tf.Tensor4D, vTokens as tf.Tensor4D, cos, sin));
    if (opts.past) {
      k = tf.concat([opts.past.keys[layer], k], 2);
      v = tf.concat([opts.past.values[layer], v], 2);
    }
    // Stock: GQA without repeating K/V (each KV head's query heads stacked along the rows, one
    // batched matmul per group) with the additive bias; fused: one tiled online-softmax kernel.
    const ctx = causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, { mask, bias });
    const out = this.linear(ctx, `${p}self_attn.o_proj`, opts) as tf.Tensor3D;
    return { out, k: k as tf.Tensor4D, v: v as tf.Tensor4D };
  }

  private mlp(x: tf.Tensor3D, p: string, opts: ForwardOptions): tf.Tensor3D {
    const [gate, up] = this.linears(x, [`${p}mlp.gate_proj`, `${p}mlp.up_proj`], opts);
    return this.linear(swiglu(gate, up), `${p}mlp.down_proj`, opts) as tf.Tensor3D;
  }
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

function hashName(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 1_000_003;
  return h;
}
