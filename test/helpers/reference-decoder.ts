// An independent reference decoder: HF's modeling_llama / modeling_qwen2 / modeling_qwen3 forward
// written out in float64 loops, one token at a time, reading only the raw config.json (not
// ModelConfig) — what the engine's decoder (and LoRA on it) is checked against.
import type { HubConfig } from './random-model';

/** HF's default inverse frequencies, then _compute_llama3_parameters / linear scaling as written there. */
export function hfInverseFrequencies(raw: HubConfig): Float64Array {
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

export type F64Weights = Map<string, Float64Array>;

function rmsNorm64(x: Float64Array, weight: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * weight[i]!);
}

export function linear64(w: F64Weights, name: string, x: Float64Array, withBias: boolean): Float64Array {
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
export function rope64(v: Float64Array, headDim: number, pos: number, inv: Float64Array): void {
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
export function referenceLogits(raw: HubConfig, w: F64Weights, ids: number[]): Float64Array[] {
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
