// The fused decode step (kernels/decode.wgsl.ts) for the Llama family: one new token per row,
// rows ≤ 8, against a KV cache preallocated to the session's capacity. Per token: 1 dispatch for
// the embedding, 5 per layer — (1) RMSNorm + q/k/v (+ LoRA) + q/k norm + RoPE + cache append,
// (2) attention over the cache, (3) o_proj (+ LoRA) + residual, (4) RMSNorm + gate/up (+ LoRA)
// + SwiGLU, (5) down (+ LoRA) + residual — and 1 for the final norm + lm_head.
//
// Everything a step binds is made once per session (kernels/decode-runner.ts): the cache, the
// residual stream and activations, each layer's small parameters packed into one buffer (the
// shaders may bind at most 8 storage buffers: the q/k/v kernel binds exactly 8), the rotary
// table. The LoRA branch is per row: step.row[r].z = 0 gives that row the frozen model exactly.
// The engine (src/engine/generate/decode-session.ts) owns the bookkeeping and the prefill.
import { tf } from '../src/engine/tf';
import { DecodeRunner, MAX_DECODE_ROWS, STEP_WORDS, type DecodeBinding, type DecodeKernel, type Prepared } from './decode-runner';
import {
  ATTN_LANES,
  COLS_HEAD,
  COLS_MLP,
  COLS_RESIDUAL,
  decodeAttentionWgsl,
  decodeEmbedWgsl,
  decodeFillWgsl,
  decodeHeadWgsl,
  decodeLanes,
  decodeMlpWgsl,
  decodeQkvWgsl,
  decodeResidualWgsl,
  type DecodeShape,
  type MlpPack,
  type PackedLinear,
  type QkvPack,
} from './decode.wgsl';

export { MAX_DECODE_ROWS, STEP_WORDS, type DecodeShape };

export interface DecodeLinear {
  /** [out, in], frozen */
  w: tf.Tensor;
  bias?: tf.Tensor;
  /** A [r, in], B [out, r]; y += scaling·(x·Aᵀ)·Bᵀ for rows whose adapter is on. */
  lora?: { a: tf.Tensor; b: tf.Tensor; scaling: number };
}

export interface DecodeLayer {
  inputNorm: tf.Tensor;
  postNorm: tf.Tensor;
  /** qwen3's per-head q/k RMSNorm weights [D]. */
  qNorm?: tf.Tensor;
  kNorm?: tf.Tensor;
  q: DecodeLinear;
  k: DecodeLinear;
  v: DecodeLinear;
  o: DecodeLinear;
  gate: DecodeLinear;
  up: DecodeLinear;
  down: DecodeLinear;
}

export interface DecodeWeights {
  /** [vocab, hidden] */
  embed: tf.Tensor;
  finalNorm: tf.Tensor;
  /** lm_head [vocab, hidden] (the embedding when tied). */
  head: tf.Tensor;
  layers: DecodeLayer[];
  /** [capacity, D] each: the rotary table of positions 0 … capacity − 1. */
  cos: tf.Tensor;
  sin: tf.Tensor;
}

const LINEARS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
type LinearName = (typeof LINEARS)[number];

/** Ranks above this leave the shared memory of the LoRA kernels too small. */
const MAX_FUSED_RANK = 64;
const WORKGROUP_BYTES = 16384;

/** Why this shape and these weights cannot take the fused decode step (null: they can). */
export function fusedDecodeRefusal(sh: DecodeShape, weights: Pick<DecodeWeights, 'layers'>): string | null {
  const D = sh.headDim;
  if (sh.rows < 1 || sh.rows > MAX_DECODE_ROWS) return `${sh.rows} rows (1 to ${MAX_DECODE_ROWS})`;
  if (sh.hidden % 4 || sh.inter % 4 || D % 4) return `hidden ${sh.hidden}, intermediate ${sh.inter} and head size ${D} must be multiples of 4`;
  if (D > decodeLanes(sh.rows) || 2 ** Math.round(Math.log2(D)) !== D) return `head size ${D} must be a power of two ≤ ${decodeLanes(sh.rows)}`;
  if (sh.heads % sh.kvHeads) return `${sh.heads} heads on ${sh.kvHeads} KV heads`;
  const ranks = loraRanks(weights.layers);
  const big = Object.entries(ranks).find(([, r]) => r > MAX_FUSED_RANK);
  if (big) return `LoRA rank ${big[1]} on ${big[0]} (the fused step takes ≤ ${MAX_FUSED_RANK})`;
  // q/k/v: red + yS + hn + rinv + the three u; gate/up: red + gS + rinv + two u.
  const red = decodeLanes(sh.rows) * sh.rows;
  const qkv = red + sh.rows * (D + 2) + sh.rows * (ranks.q + ranks.k + ranks.v);
  const mlp = red + sh.rows * (COLS_MLP + 1) + sh.rows * (ranks.gate + ranks.up);
  if (4 * Math.max(qkv, mlp) > WORKGROUP_BYTES) return `the kernels would need ${4 * Math.max(qkv, mlp)} bytes of workgroup memory`;
  return null;
}

/** Per linear, the largest LoRA rank over the layers (0: no layer adapts it). */
function loraRanks(layers: DecodeLayer[]): Record<LinearName, number> {
  const out = Object.fromEntries(LINEARS.map((n) => [n, 0])) as Record<LinearName, number>;
  for (const l of layers) for (const n of LINEARS) out[n] = Math.max(out[n], l[n].lora?.a.shape[0] ?? 0);
  return out;
}

const padTo4 = (n: number) => Math.ceil(n / 4) * 4;

/** Offsets in each layer's P; the same for every layer, so one pipeline serves them all. */
interface PackLayout {
  size: number;
  inputNorm: number;
  postNorm: number;
  qNorm?: number;
  kNorm?: number;
  linears: Record<LinearName, PackedLinear>;
}

function packLayout(sh: DecodeShape, first: DecodeLayer, ranks: Record<LinearName, number>): PackLayout {
  let size = 0;
  const take = (n: number) => {
    const at = size;
    size += padTo4(n);
    return at;
  };
  const inputNorm = take(sh.hidden);
  const postNorm = take(sh.hidden);
  const qNorm = first.qNorm ? take(sh.headDim) : undefined;
  const kNorm = first.kNorm ? take(sh.headDim) : undefined;
  const linears = {} as Record<LinearName, PackedLinear>;
  for (const n of LINEARS) {
    const [out, inF] = first[n].w.shape;
    const p: PackedLinear = {};
    if (first[n].bias) p.bias = take(out);
    const rank = ranks[n];
    if (rank > 0) p.lora = { rank, a: take(rank * inF), b: take(out * rank) };
    linears[n] = p;
  }
  return { size, inputNorm, postNorm, qNorm, kNorm, linears };
}

/** One layer's P, in `layout`'s order (call inside tf.tidy). */
function packLayer(layer: DecodeLayer, layout: PackLayout, index: number): tf.Tensor {
  const pieces: tf.Tensor[] = [];
  const put = (t: tf.Tensor) => {
    const flat = t.reshape([-1]);
    const pad = padTo4(flat.size) - flat.size;
    pieces.push(pad ? tf.pad(flat, [[0, pad]]) : flat);
  };
  const need = (t: tf.Tensor | undefined, what: string) => {
    if (!t) throw new Error(`decode: layer ${index} lacks ${what}, which layer 0 has`);
    return t;
  };
  put(layer.inputNorm);
  put(layer.postNorm);
  if (layout.qNorm !== undefined) put(need(layer.qNorm, 'q_norm'));
  if (layout.kNorm !== undefined) put(need(layer.kNorm, 'k_norm'));
  for (const n of LINEARS) {
    const p = layout.linears[n];
    const l = layer[n];
    if (p.bias !== undefined) put(need(l.bias, `the ${n} bias`));
    if (!p.lora) continue;
    const [out, inF] = l.w.shape;
    const { rank } = p.lora;
    if (l.lora) {
      const r = l.lora.a.shape[0];
      put(tf.pad(l.lora.a, [[0, rank - r], [0, 0]]));
      put(tf.pad(l.lora.b.mul(l.lora.scaling), [[0, 0], [0, rank - r]]));
    } else {
      put(tf.zeros([rank * inF]));
      put(tf.zeros([out * rank]));
    }
  }
  const packed = tf.concat(pieces);
  if (packed.size !== layout.size) throw new Error(`decode: layer ${index} packs ${packed.size} floats, expected ${layout.size}`);
  return packed;
}

const f32 = (name: string, tensor: tf.TensorInfo, write = false): DecodeBinding => ({ name, type: 'f32', tensor, write });
const vec4 = (name: string, tensor: tf.TensorInfo): DecodeBinding => ({ name, type: 'vec4<f32>', tensor });

/** The fused decode step of one session: its buffers, its prepared kernels, and a step. */
export class FusedDecodeStep {
  readonly shape: DecodeShape;
  private readonly runner: DecodeRunner;
  /** Tensors the session owns (disposed with it). */
  private readonly owned: tf.Tensor[] = [];
  private readonly caches: tf.Tensor[] = [];
  private readonly hidden: tf.Tensor;
  private readonly kernels: Prepared[] = [];
  private readonly weights: DecodeWeights;

  constructor(backend: object, shape: DecodeShape, weights: DecodeWeights) {
    const refusal = fusedDecodeRefusal(shape, weights);
    if (refusal) throw new Error(`fused decode: ${refusal}`);
    this.shape = shape;
    this.weights = weights;
    this.runner = new DecodeRunner(backend);
    const sh = shape;
    const keep = <T extends tf.Tensor>(t: T): T => {
      this.owned.push(tf.keep(t));
      return t;
    };
    const layout = packLayout(sh, weights.layers[0], loraRanks(weights.layers));
    const buffers = tf.tidy(() => {
      return {
        packs: weights.layers.map((l, i) => keep(packLayer(l, layout, i))),
        rope: keep(tf.stack([weights.cos, weights.sin])),
        hidden: keep(tf.zeros([sh.rows, sh.hidden])),
        q: keep(tf.zeros([sh.rows, sh.heads * sh.headDim])),
        ctx: keep(tf.zeros([sh.rows, sh.heads * sh.headDim])),
        act: keep(tf.zeros([sh.rows, sh.inter])),
        caches: weights.layers.map(() => keep(tf.zeros([2, sh.rows, sh.kvHeads, sh.capacity, sh.headDim]))),
      };
    });
    this.hidden = buffers.hidden;
    this.caches.push(...buffers.caches);
    const qkvPack: QkvPack = { norm: layout.inputNorm, q: layout.linears.q, k: layout.linears.k, v: layout.linears.v, qNorm: layout.qNorm, kNorm: layout.kNorm };
    const mlpPack: MlpPack = { norm: layout.postNorm, gate: layout.linears.gate, up: layout.linears.up };
    const wg = decodeLanes(sh.rows);
    const hd = sh.heads * sh.headDim;
    const prepare = (k: DecodeKernel) => this.kernels.push(this.runner.prepare(k));
    prepare({ name: 'decode_embed', bindings: [f32('H', buffers.hidden, true), f32('E', weights.embed)], workgroupSize: 64, dispatch: [sh.rows, 1, 1], code: decodeEmbedWgsl(sh) });
    weights.layers.forEach((l, i) => {
      const P = buffers.packs[i];
      const KV = buffers.caches[i];
      prepare({
        name: 'decode_qkv',
        bindings: [f32('Q', buffers.q, true), f32('KV', KV, true), vec4('H', buffers.hidden), vec4('WQ', l.q.w), vec4('WK', l.k.w), vec4('WV', l.v.w), f32('P', P), f32('ROPE', buffers.rope)],
        workgroupSize: wg,
        dispatch: [sh.heads + 2 * sh.kvHeads, 1, 1],
        code: decodeQkvWgsl(sh, qkvPack),
      });
      prepare({
        name: 'decode_attention',
        bindings: [f32('CTX', buffers.ctx, true), vec4('Q4', buffers.q), vec4('KV4', KV), f32('KV', KV)],
        workgroupSize: ATTN_LANES,
        dispatch: [sh.heads, sh.rows, 1],
        code: decodeAttentionWgsl(sh),
      });
      prepare({
        name: 'decode_o_proj',
        bindings: [f32('H', buffers.hidden, true), vec4('X', buffers.ctx), vec4('W', l.o.w), f32('P', P)],
        workgroupSize: wg,
        dispatch: [Math.ceil(sh.hidden / COLS_RESIDUAL), 1, 1],
        code: decodeResidualWgsl(sh, hd, layout.linears.o),
      });
      prepare({
        name: 'decode_mlp',
        bindings: [f32('ACT', buffers.act, true), vec4('H', buffers.hidden), vec4('WG_', l.gate.w), vec4('WU', l.up.w), f32('P', P)],
        workgroupSize: wg,
        dispatch: [Math.ceil(sh.inter / COLS_MLP), 1, 1],
        code: decodeMlpWgsl(sh, mlpPack),
      });
      prepare({
        name: 'decode_down_proj',
        bindings: [f32('H', buffers.hidden, true), vec4('X', buffers.act), vec4('W', l.down.w), f32('P', P)],
        workgroupSize: wg,
        dispatch: [Math.ceil(sh.hidden / COLS_RESIDUAL), 1, 1],
        code: decodeResidualWgsl(sh, sh.inter, layout.linears.down),
      });
    });
  }

  /** Dispatches per step: the embedding, 5 per layer, the head. */
  get dispatchesPerStep(): number {
    return this.kernels.length + 1;
  }

  /** Writes the prefill's keys and values k, v [rows, kvHeads, T, D] into slots 0 … T − 1 of `layer`. */
  fill(layer: number, k: tf.Tensor, v: tf.Tensor): void {
    const sh = this.shape;
    const seq = k.shape[2]!;
    const expect = [sh.rows, sh.kvHeads, seq, sh.headDim];
    if (!tf.util.arraysEqual(k.shape, expect) || !tf.util.arraysEqual(v.shape, expect)) throw new Error(`fused decode: prefill keys ${k.shape} / values ${v.shape}, expected [${expect}]`);
    if (seq > sh.capacity) throw new Error(`fused decode: a prefill of ${seq} tokens exceeds the cache's ${sh.capacity} slots`);
    const n = sh.rows * sh.kvHeads * seq * sh.headDim;
    this.runner.record(
      this.runner.prepare({
        name: 'decode_fill',
        bindings: [f32('KV', this.caches[layer], true), f32('K', k), f32('V', v)],
        workgroupSize: 64,
        dispatch: [Math.min(1024, Math.ceil(n / 64)), 1, 1],
        code: decodeFillWgsl(sh, seq),
      }),
    );
  }

  /**
   * One step: `words` is the step uniform (kernels/decode-runner.ts). Returns the logits
   * [rows, vocab], a new tensor the caller owns.
   */
  step(words: Int32Array): tf.Tensor2D {
    const sh = this.shape;
    this.runner.writeStep(words);
    for (const k of this.kernels) this.runner.record(k);
    const logits = this.runner.output([sh.rows, sh.vocab]);
    this.runner.record(
      this.runner.prepare({
        name: 'decode_head',
        bindings: [f32('LOGITS', logits, true), vec4('H', this.hidden), vec4('W', this.weights.head), f32('P', this.weights.finalNorm)],
        workgroupSize: decodeLanes(sh.rows),
        dispatch: [Math.ceil(sh.vocab / COLS_HEAD), 1, 1],
        code: decodeHeadWgsl(sh),
      }),
    );
    return logits as tf.Tensor2D;
  }

  dispose(): void {
    this.runner.dispose();
    tf.dispose(this.owned);
    this.owned.length = 0;
  }
}
