// An independent reference for Gemma 3: transformers' modeling_gemma3.py (Gemma3TextModel,
// eager attention) written out in float64 loops, one token at a time, reading only the raw
// config.json (not the engine's ModelConfig) and the weights as the checkpoint holds them.
import { float32Weight } from '../../kernels/half';
import type { WeightMap } from '../../src/engine/model/weights';
import type { HubConfig } from './random-model';
import { linear64, rope64, type F64Weights } from './reference-decoder';

export type { F64Weights };

export function referenceWeights(weights: WeightMap): F64Weights {
  return new Map([...weights].map(([n, t]) => [n, Float64Array.from(float32Weight(t).dataSync())]));
}

/** Gemma3RMSNorm: x · rsqrt(mean(x²) + eps) · (1 + w). */
function norm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * (1 + w[i]!));
}

/** x · Wᵀ for W [out, in] (Gemma 3 has no biases unless attention_bias). */
const matvec = (w: F64Weights, name: string, x: Float64Array) => linear64(w, name, x, w.has(`${name}.bias`));

/** ACT2FN["gelu_pytorch_tanh"]. */
const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

/** Default RoPE inverse frequencies for `base`, divided by a linear rope_scaling factor. */
function inverseFrequencies(dim: number, base: number, linearFactor = 1): Float64Array {
  return Float64Array.from({ length: dim / 2 }, (_, i) => 1 / Math.pow(base, (2 * i) / dim) / linearFactor);
}

/** Logits [T][vocab] of one unpadded sequence at positions 0..T-1 (gemma3_text configs). */
export function gemma3Reference(raw: HubConfig, w: F64Weights, ids: number[]): Float64Array[] {
  const hidden = raw.hidden_size as number;
  const heads = raw.num_attention_heads as number;
  const kvHeads = raw.num_key_value_heads as number;
  const d = raw.head_dim as number;
  const eps = raw.rms_norm_eps as number;
  const layers = raw.num_hidden_layers as number;
  const window = raw.sliding_window as number;
  const pattern = (raw.sliding_window_pattern as number | undefined) ?? 6;
  // Gemma3TextConfig: layer_types, or every pattern-th layer full.
  const layerTypes =
    (raw.layer_types as string[] | undefined) ??
    Array.from({ length: layers }, (_, i) => ((i + 1) % pattern ? 'sliding_attention' : 'full_attention'));
  const scaling = Math.pow(raw.query_pre_attn_scalar as number, -0.5);
  const scalingRs = raw.rope_scaling as { rope_type: string; factor: number } | null;
  if (scalingRs && scalingRs.rope_type !== 'linear') throw new Error(`reference: rope type ${scalingRs.rope_type}`);
  const globalInv = inverseFrequencies(d, raw.rope_theta as number, scalingRs?.factor ?? 1);
  // rotary_emb_local: rope_local_base_freq with rope_scaling replaced by the default.
  const localInv = inverseFrequencies(d, raw.rope_local_base_freq as number);
  const embed = w.get('model.embed_tokens.weight')!;
  const headOf = (v: Float64Array, h: number) => v.subarray(h * d, (h + 1) * d);
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
  const addInto = (x: Float64Array, y: Float64Array) => y.forEach((v, i) => (x[i] += v));

  // Gemma3TextScaledWordEmbedding: embedding · √hidden.
  const x = ids.map((id) => embed.slice(id * hidden, (id + 1) * hidden).map((v) => v * Math.sqrt(hidden)));
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    const sliding = layerTypes[l] === 'sliding_attention';
    const inv = sliding ? localInv : globalInv;
    const q: Float64Array[] = [];
    const k: Float64Array[] = [];
    const v: Float64Array[] = [];
    x.forEach((xt, t) => {
      const a = norm(xt, w.get(`${p}input_layernorm.weight`)!, eps);
      const qt = matvec(w, `${p}self_attn.q_proj`, a);
      const kt = matvec(w, `${p}self_attn.k_proj`, a);
      for (let h = 0; h < heads; h++) qt.set(norm(headOf(qt, h), w.get(`${p}self_attn.q_norm.weight`)!, eps), h * d);
      for (let h = 0; h < kvHeads; h++) kt.set(norm(headOf(kt, h), w.get(`${p}self_attn.k_norm.weight`)!, eps), h * d);
      rope64(qt, d, t, inv);
      rope64(kt, d, t, inv);
      q.push(qt);
      k.push(kt);
      v.push(matvec(w, `${p}self_attn.v_proj`, a));
    });
    const attnOut = x.map((_, t) => {
      // Causal, and on sliding layers only keys j > t − sliding_window (sliding_window_overlay).
      const first = sliding ? Math.max(0, t - window + 1) : 0;
      const ctx = new Float64Array(heads * d);
      for (let h = 0; h < heads; h++) {
        const g = Math.floor(h / (heads / kvHeads));
        const keys = Array.from({ length: t + 1 - first }, (_, n) => first + n);
        const scores = keys.map((j) => dot(headOf(q[t]!, h), headOf(k[j]!, g)) * scaling);
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((s, a) => s + a, 0);
        keys.forEach((j, n) => {
          const vj = headOf(v[j]!, g);
          for (let i = 0; i < d; i++) ctx[h * d + i] += (e[n]! / z) * vj[i]!;
        });
      }
      return matvec(w, `${p}self_attn.o_proj`, ctx);
    });
    x.forEach((xt, t) => {
      addInto(xt, norm(attnOut[t]!, w.get(`${p}post_attention_layernorm.weight`)!, eps));
      const m = norm(xt, w.get(`${p}pre_feedforward_layernorm.weight`)!, eps);
      const gate = matvec(w, `${p}mlp.gate_proj`, m);
      const up = matvec(w, `${p}mlp.up_proj`, m);
      const down = matvec(w, `${p}mlp.down_proj`, gate.map((g, i) => geluTanh(g) * up[i]!));
      addInto(xt, norm(down, w.get(`${p}post_feedforward_layernorm.weight`)!, eps));
    });
  }
  // Tied lm_head.
  return x.map((xt) => matvec(w, 'model.embed_tokens', norm(xt, w.get('model.norm.weight')!, eps)));
}
