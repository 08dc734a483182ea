// One decoder for the Llama family (llama, mistral, qwen2, qwen3), read top to bottom:
//
//   h = embed(ids)
//   for each layer:
//     h = h + attention(norm(h))      grouped-query attention with RoPE (and qwen3's q/k norm)
//     h = h + mlp(norm(h))            SwiGLU
//   hidden = norm(h)                  logits = hidden · lm_headᵀ
//
// Used unchanged for training, evaluation and generation. The ops come from kernels/, which
// alone decides how each runs (stock TF.js or fused WGSL kernels) and where LoRA enters a linear.
import { tf } from '../tf';
import { Decoder, positionIds, type ForwardOptions, type ForwardResult, type PastKeyValues } from './decoder';
import { causalAttention, embedding, linear, linears, residual, rmsNorm, ropeQkv, swiglu, type Residual } from '../../../kernels';

export type { ForwardOptions, ForwardResult, PastKeyValues } from './decoder';

/** Per forward: what every layer's attention reads besides its input. */
interface AttentionContext {
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
  /** [B, past + T] key padding mask. */
  mask: tf.Tensor2D;
  past?: PastKeyValues;
}

export class LlamaModel extends Decoder {
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const [batch, seq] = inputIds.shape;
    const pastLen = opts.past?.keys[0]?.shape[2] ?? 0;
    const mask = opts.attentionMask ?? tf.ones([batch, pastLen + seq], 'int32');
    const { cos, sin } = this.rotary(opts.positionIds ?? positionIds(mask, seq), pastLen + seq);
    const ctx: AttentionContext = { cos, sin, mask, past: opts.past };

    const present: PastKeyValues = { keys: [], values: [] };
    let h = residual(embedding(this.frozen('model.embed_tokens.weight'), inputIds));
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}.`;
      const attn = this.attention(this.norm(h, `${p}input_layernorm`), p, i, ctx, opts);
      h = h.add(attn.out);
      h = h.add(this.mlp(this.norm(h, `${p}post_attention_layernorm`), p, opts));
      present.keys.push(attn.k);
      present.values.push(attn.v);
    }
    return { hidden: this.norm(h, 'model.norm') as tf.Tensor3D, present };
  }

  private norm(h: Residual, name: string): tf.Tensor {
    return h.norm(this.w(`${name}.weight`), this.config.rmsNormEps);
  }

  private attention(x: tf.Tensor, p: string, layer: number, ctx: AttentionContext, opts: ForwardOptions): { out: tf.Tensor; k: tf.Tensor4D; v: tf.Tensor4D } {
    const c = this.config;
    const [batch, seq] = x.shape;
    const heads = (t: tf.Tensor, n: number) => t.reshape([batch, seq, n, c.headDim]) as tf.Tensor4D;
    const [q, k, v] = linears(
      x,
      ['q_proj', 'k_proj', 'v_proj'].map((m) => this.dense(`${p}self_attn.${m}`, opts)),
    );
    let qh = heads(q, c.numHeads);
    let kh = heads(k, c.numKvHeads);
    if (c.qkNorm) {
      qh = rmsNorm(qh, this.w(`${p}self_attn.q_norm.weight`), c.rmsNormEps);
      kh = rmsNorm(kh, this.w(`${p}self_attn.k_norm.weight`), c.rmsNormEps);
    }
    // Rotated and heads-first: q [B, H, T, d], k and v [B, Hk, T, d].
    const r = ropeQkv(qh, kh, heads(v, c.numKvHeads), ctx.cos, ctx.sin);
    const keys = ctx.past ? (tf.concat([ctx.past.keys[layer], r.k], 2) as tf.Tensor4D) : r.k;
    const values = ctx.past ? (tf.concat([ctx.past.values[layer], r.v], 2) as tf.Tensor4D) : r.v;
    const out = linear(causalAttention(r.q, keys, values, ctx.mask), this.dense(`${p}self_attn.o_proj`, opts));
    return { out, k: keys, v: values };
  }

  private mlp(x: tf.Tensor, p: string, opts: ForwardOptions): tf.Tensor {
    const [gate, up] = linears(x, [this.dense(`${p}mlp.gate_proj`, opts), this.dense(`${p}mlp.up_proj`, opts)]);
    return linear(swiglu(gate, up), this.dense(`${p}mlp.down_proj`, opts));
  }
}
