// The Gemma 3 decoder (gemma3_text; Gemma 3 270M and 1B), read top to bottom as transformers'
// modeling_gemma3.py computes it:
//
//   h = embed(ids) · √hidden                          Gemma3TextScaledWordEmbedding
//   for each layer (sliding_attention or full_attention, per config.layerTypes):
//     h = h + post_attention_norm(attention(input_norm(h)))
//     h = h + post_feedforward_norm(mlp(pre_feedforward_norm(h)))
//   hidden = norm(h)                                  logits = hidden · embedᵀ (tied)
//
// Every norm is Gemma3RMSNorm: x · rsqrt(mean(x²) + eps) · (1 + w), in float32. Attention is
// GQA with per-head q/k norms and scores scaled by 1/√query_pre_attn_scalar; sliding layers see
// the last `slidingWindow` keys and rotate with rope_local_base_freq, full layers see every key
// and rotate with rope_theta (and rope_scaling). The MLP is GeGLU (gelu_pytorch_tanh).
import { tf } from '../tf';
import type { ModelConfig } from './config';
import type { WeightMap } from './weights';
import { Decoder, positionIds, type ForwardOptions, type ForwardResult, type PastKeyValues, type RopeSpec } from './decoder';
import { causalAttention, embedding, geglu, linear, linears, residual, rmsNorm, ropeQkv, type Residual } from '../../../kernels';

/** The rotation and key window of one kind of layer. */
interface LayerAttention {
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
  /** Keys a query sees, itself included; undefined: all earlier keys. */
  window?: number;
}

/** Per forward: what every layer's attention reads besides its input. */
interface AttentionContext {
  full: LayerAttention;
  sliding: LayerAttention;
  /** [B, past + T] key padding mask. */
  mask: tf.Tensor2D;
  past?: PastKeyValues;
}

export class Gemma3Model extends Decoder {
  /**
   * 1 + w of every norm, rounded to float32 once, as Gemma3RMSNorm's float32 `1.0 + weight`
   * is: the RMSNorm ops (fused or stock) then run unchanged with it as their weight. The
   * checkpoint's w stays in `weights`, which export and merge write.
   */
  private readonly onePlus = new Map<string, { source: tf.Tensor; weight: tf.Tensor }>();
  private readonly slidingRope: RopeSpec;

  constructor(config: ModelConfig, weights: WeightMap) {
    super(config, weights);
    if (config.family !== 'gemma3') throw new Error(`Gemma3Model: config family is ${config.family}`);
    // Gemma3TextModel's rotary_emb_local: the local base, never scaled.
    this.slidingRope = { headDim: config.headDim, ropeTheta: config.ropeLocalTheta ?? config.ropeTheta, ropeScaling: null };
    for (const name of weights.keys()) if (name.endsWith('norm.weight')) this.normWeight(name);
  }

  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const [batch, seq] = inputIds.shape;
    const pastLen = opts.past?.keys[0]?.shape[2] ?? 0;
    const mask = opts.attentionMask ?? tf.ones([batch, pastLen + seq], 'int32');
    const positions = opts.positionIds ?? positionIds(mask, seq);
    const ctx: AttentionContext = {
      full: this.rotary(positions, pastLen + seq),
      sliding: { ...this.rotary(positions, pastLen + seq, this.slidingRope), window: c.slidingWindow ?? undefined },
      mask,
      past: opts.past,
    };

    const present: PastKeyValues = { keys: [], values: [] };
    // √hidden as a float32 scalar: the engine computes in float32, as transformers does for a
    // float32 model (a bfloat16 one rounds it to bfloat16 first: 25.25 instead of 25.298 at 640).
    const embedded = embedding(this.frozen('model.embed_tokens.weight'), inputIds).mul(Math.sqrt(c.hiddenSize));
    let h = residual(embedded);
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}.`;
      const kind = c.layerTypes[i] === 'sliding_attention' ? ctx.sliding : ctx.full;
      const attn = this.attention(this.streamNorm(h, `${p}input_layernorm`), p, i, kind, ctx, opts);
      h = h.add(this.norm(attn.out, `${p}post_attention_layernorm`));
      const ff = this.mlp(this.streamNorm(h, `${p}pre_feedforward_layernorm`), p, opts);
      h = h.add(this.norm(ff, `${p}post_feedforward_layernorm`));
      present.keys.push(attn.k);
      present.values.push(attn.v);
    }
    return { hidden: this.streamNorm(h, 'model.norm') as tf.Tensor3D, present };
  }

  override dispose(): void {
    super.dispose();
    for (const { weight } of this.onePlus.values()) weight.dispose();
    this.onePlus.clear();
  }

  /** Gemma3RMSNorm of the residual stream (fused with the pending residual add). */
  private streamNorm(h: Residual, name: string): tf.Tensor {
    return h.norm(this.normWeight(`${name}.weight`), this.config.rmsNormEps);
  }

  /** Gemma3RMSNorm of a sublayer's output or of q/k heads. */
  private norm<T extends tf.Tensor>(x: T, name: string): T {
    return rmsNorm(x, this.normWeight(`${name}.weight`), this.config.rmsNormEps);
  }

  /** 1 + w for the norm weight `name`, derived again only if the weight tensor was replaced. */
  private normWeight(name: string): tf.Tensor {
    const source = this.w(name);
    const hit = this.onePlus.get(name);
    if (hit?.source === source && !hit.weight.isDisposed) return hit.weight;
    hit?.weight.dispose();
    const weight = tf.keep(tf.tidy(() => source.add(1)));
    this.onePlus.set(name, { source, weight });
    return weight;
  }

  private attention(
    x: tf.Tensor,
    p: string,
    layer: number,
    kind: LayerAttention,
    ctx: AttentionContext,
    opts: ForwardOptions,
  ): { out: tf.Tensor; k: tf.Tensor4D; v: tf.Tensor4D } {
    const c = this.config;
    const [batch, seq] = x.shape;
    const heads = (t: tf.Tensor, n: number) => t.reshape([batch, seq, n, c.headDim]) as tf.Tensor4D;
    const [q, k, v] = linears(
      x,
      ['q_proj', 'k_proj', 'v_proj'].map((m) => this.dense(`${p}self_attn.${m}`, opts)),
    );
    const qh = this.norm(heads(q, c.numHeads), `${p}self_attn.q_norm`);
    const kh = this.norm(heads(k, c.numKvHeads), `${p}self_attn.k_norm`);
    // Rotated and heads-first: q [B, H, T, d], k and v [B, Hk, T, d].
    const r = ropeQkv(qh, kh, heads(v, c.numKvHeads), kind.cos, kind.sin);
    const keys = ctx.past ? (tf.concat([ctx.past.keys[layer], r.k], 2) as tf.Tensor4D) : r.k;
    const values = ctx.past ? (tf.concat([ctx.past.values[layer], r.v], 2) as tf.Tensor4D) : r.v;
    const context = causalAttention(r.q, keys, values, ctx.mask, { window: kind.window, scale: c.attentionScale });
    return { out: linear(context, this.dense(`${p}self_attn.o_proj`, opts)), k: keys, v: values };
  }

  private mlp(x: tf.Tensor, p: string, opts: ForwardOptions): tf.Tensor {
    const [gate, up] = linears(x, [this.dense(`${p}mlp.gate_proj`, opts), this.dense(`${p}mlp.up_proj`, opts)]);
    return linear(geglu(gate, up), this.dense(`${p}mlp.down_proj`, opts));
  }
}
