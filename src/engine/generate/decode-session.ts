// A decode session: one generation's KV cache, preallocated for `capacity` tokens (prompt +
// new tokens), and a step that feeds one new token per row and returns the next-token logits.
//
//   const s = createDecodeSession(model, { rows: 2, capacity: prompt.length + maxNewTokens, adapter });
//   let logits = s.prefill([prompt, prompt], [false, true]);   // row 0 base, row 1 tuned
//   for (...) { const ids = pick(logits); logits.dispose(); logits = s.step(ids, [false, true]); }
//   logits.dispose(); s.dispose();
//
// - prefill(prompts, adapterRows?) → logits [rows, vocab] of each row's last prompt token. Prompts
//   may differ in length: they are left-padded (positions count real tokens only, as HF does).
//   It runs once, first, through the model's own forward (the training kernels where fused).
// - step(ids, adapterRows?) → logits [rows, vocab] after one new token per row (`ids[r]`).
//   adapterRows[r] false runs row r on the frozen model (absent: every row has the adapter).
// - Logits stay on the device as a tf tensor the caller disposes (sampling may run there too).
// - `fused`: on WebGPU with the fused kernels, for the Llama family (llama, mistral, qwen2, qwen3)
//   and ≤ 8 rows, a step is kernels/decode.ts: 5 dispatches per layer + 2, into a cache and
//   buffers allocated once (nothing else is created per step but the logits). Elsewhere (cpu,
//   wasm, stock kernels, Gemma 3, more rows) the same API runs the model's forward with past keys
//   and values and a per-row LoRA mask, one token per step.
// - `decodeRowLogits(maxNewTokens)` adapts a session to generate-rows' RowLogits seam.
import { tf } from '../tf';
import type { Decoder, PastKeyValues } from '../model/decoder';
import type { LoraAdapter } from '../lora/lora';
import { ropeTable } from '../model/rope';
import { fusedActive } from '../../../kernels';
import { FusedDecodeStep, fusedDecodeRefusal, MAX_DECODE_ROWS, STEP_WORDS, type DecodeLayer, type DecodeLinear, type DecodeShape, type DecodeWeights } from '../../../kernels/decode';

export interface DecodeSessionOptions {
  rows: number;
  /** Cache slots: the longest (padded) prompt plus the tokens to generate. */
  capacity: number;
  adapter?: LoraAdapter | null;
  /** false: always the model's forward with past keys and values (a reference to compare with). */
  fused?: boolean;
}

export interface DecodeSession {
  readonly rows: number;
  readonly capacity: number;
  /** Cache slots in use: the padded prompt plus the steps taken. */
  readonly length: number;
  /** Whether steps run the fused decode kernels (else the model's forward with past keys and values). */
  readonly fused: boolean;
  /** Why the fused step does not run here (null when it does). */
  readonly fallbackReason: string | null;
  prefill(prompts: readonly (readonly number[])[], adapterRows?: readonly boolean[]): tf.Tensor2D;
  step(ids: readonly number[], adapterRows?: readonly boolean[]): tf.Tensor2D;
  dispose(): void;
}

export function createDecodeSession(model: Decoder, opts: DecodeSessionOptions): DecodeSession {
  if (!(Number.isInteger(opts.rows) && opts.rows >= 1)) throw new Error(`decode session: rows must be a positive integer, got ${opts.rows}`);
  if (!(Number.isInteger(opts.capacity) && opts.capacity >= 2)) throw new Error(`decode session: capacity must be an integer ≥ 2, got ${opts.capacity}`);
  const reason = fusedReason(model, opts);
  return reason === null ? new FusedSession(model, opts) : new ForwardSession(model, opts, reason);
}

/** Why the fused step cannot serve this session, or null. */
function fusedReason(model: Decoder, opts: DecodeSessionOptions): string | null {
  const c = model.config;
  if (opts.fused === false) return 'the caller asked for the forward with past keys (fused: false)';
  if (!fusedActive()) return 'the fused kernels are not active (they need the webgpu backend and kernel mode "fused")';
  if (c.family === 'gemma3' || c.hiddenAct !== 'silu' || c.slidingWindow !== null) return `model family ${c.family} (the fused step covers llama, mistral, qwen2 and qwen3)`;
  if (opts.rows > MAX_DECODE_ROWS) return `${opts.rows} rows (the fused step takes ≤ ${MAX_DECODE_ROWS})`;
  let layers: DecodeLayer[];
  try {
    layers = decodeLayers(model, opts.adapter ?? null);
  } catch (e) {
    if (e instanceof NotFloat32) return e.message;
    throw e;
  }
  return fusedDecodeRefusal(decodeShape(model, opts), { layers });
}

/** A weight the fused step cannot read (it reads float32 tensors only, not f16-base halves). */
class NotFloat32 extends Error {}

/** The float32 tensor `name` of the model (undefined when absent and `optional`). */
function weightOf(model: Decoder, name: string, optional: true): tf.Tensor | undefined;
function weightOf(model: Decoder, name: string): tf.Tensor;
function weightOf(model: Decoder, name: string, optional = false): tf.Tensor | undefined {
  const t: unknown = model.weights.get(name);
  if (t === undefined && optional) return undefined;
  if (t === undefined) throw new Error(`decode session: weight ${name} is not loaded`);
  if (!(t instanceof tf.Tensor) || t.dtype !== 'float32') throw new NotFloat32(`weight ${name} is not a float32 tensor (half-precision weights take the model's forward)`);
  return t;
}

function decodeShape(model: Decoder, opts: DecodeSessionOptions): DecodeShape {
  const c = model.config;
  return {
    rows: opts.rows,
    hidden: c.hiddenSize,
    inter: c.intermediateSize,
    heads: c.numHeads,
    kvHeads: c.numKvHeads,
    headDim: c.headDim,
    capacity: opts.capacity,
    vocab: c.vocabSize,
    eps: c.rmsNormEps,
    scale: c.attentionScale,
  };
}

function decodeLayers(model: Decoder, adapter: LoraAdapter | null): DecodeLayer[] {
  const w = (name: string) => weightOf(model, name);
  const linear = (path: string): DecodeLinear => {
    const l = adapter?.layers.get(path);
    return { w: w(`${path}.weight`), bias: weightOf(model, `${path}.bias`, true), lora: l ? { a: l.a, b: l.b, scaling: l.scaling } : undefined };
  };
  return Array.from({ length: model.config.numLayers }, (_, i) => {
    const p = `model.layers.${i}.`;
    return {
      inputNorm: w(`${p}input_layernorm.weight`),
      postNorm: w(`${p}post_attention_layernorm.weight`),
      qNorm: model.config.qkNorm ? w(`${p}self_attn.q_norm.weight`) : undefined,
      kNorm: model.config.qkNorm ? w(`${p}self_attn.k_norm.weight`) : undefined,
      q: linear(`${p}self_attn.q_proj`),
      k: linear(`${p}self_attn.k_proj`),
      v: linear(`${p}self_attn.v_proj`),
      o: linear(`${p}self_attn.o_proj`),
      gate: linear(`${p}mlp.gate_proj`),
      up: linear(`${p}mlp.up_proj`),
      down: linear(`${p}mlp.down_proj`),
    };
  });
}

/** What both kinds of session share: the prompts' padding and the row flags. */
abstract class SessionBase implements DecodeSession {
  readonly rows: number;
  readonly capacity: number;
  protected readonly adapter: LoraAdapter | null;
  /** Real prompt tokens per row, and the padded prompt width. */
  protected promptLens: number[] = [];
  protected width = 0;
  protected steps = 0;
  abstract readonly fused: boolean;
  abstract readonly fallbackReason: string | null;

  constructor(
    protected readonly model: Decoder,
    opts: DecodeSessionOptions,
  ) {
    this.rows = opts.rows;
    this.capacity = opts.capacity;
    this.adapter = opts.adapter ?? null;
  }

  get length(): number {
    return this.width + this.steps;
  }

  /** Per row, whether the adapter applies (a session without an adapter has it on no row). */
  protected flags(adapterRows: readonly boolean[] | undefined): boolean[] {
    if (adapterRows && adapterRows.length !== this.rows) throw new Error(`decode session: ${adapterRows.length} adapter flags for ${this.rows} rows`);
    return Array.from({ length: this.rows }, (_, r) => !!this.adapter && (adapterRows?.[r] ?? true));
  }

  /** Left-padded ids and their key mask, after checking the prompts. */
  protected padded(prompts: readonly (readonly number[])[]): { ids: number[][]; mask: number[][] } {
    if (this.width) throw new Error('decode session: prefill runs once, first');
    if (prompts.length !== this.rows) throw new Error(`decode session: ${prompts.length} prompts for ${this.rows} rows`);
    if (prompts.some((p) => p.length === 0)) throw new Error('decode session: a prompt has no tokens');
    const width = Math.max(...prompts.map((p) => p.length));
    if (width >= this.capacity) throw new Error(`decode session: a prompt of ${width} tokens leaves no room in a cache of ${this.capacity}`);
    this.width = width;
    this.promptLens = prompts.map((p) => p.length);
    const pad = (p: readonly number[]) => new Array<number>(width - p.length).fill(0);
    return { ids: prompts.map((p) => [...pad(p), ...p]), mask: prompts.map((p) => [...pad(p), ...p.map(() => 1)]) };
  }

  /** Checks a step's ids and takes its cache slot. */
  protected nextSlot(ids: readonly number[]): number {
    if (!this.width) throw new Error('decode session: prefill first');
    if (ids.length !== this.rows) throw new Error(`decode session: ${ids.length} ids for ${this.rows} rows`);
    const vocab = this.model.config.vocabSize;
    const bad = ids.find((id) => !(Number.isInteger(id) && id >= 0 && id < vocab));
    if (bad !== undefined) throw new Error(`decode session: token id ${bad} is outside the vocabulary of ${vocab}`);
    if (this.length >= this.capacity) throw new Error(`decode session: the cache's ${this.capacity} slots are full`);
    return this.length;
  }

  /** The model's forward over `ids` [rows, T] (inside a tidy): last-position logits and the new cache. */
  protected forward(ids: number[][], mask: number[][], past: PastKeyValues | undefined, on: boolean[]): { logits: tf.Tensor2D; present: PastKeyValues } {
    return tf.tidy(() => {
      const [rows, seq] = [ids.length, ids[0]!.length];
      const x = tf.tensor2d(ids.flat(), [rows, seq], 'int32');
      const attentionMask = tf.tensor2d(mask.flat(), [rows, mask[0]!.length], 'int32');
      const any = on.some(Boolean);
      const { hidden, present } = this.model.forward(x, { past, attentionMask, adapter: any ? this.adapter : null, adapterRows: any ? on : undefined });
      const last = hidden.slice([0, seq - 1, 0], [rows, 1, -1]).reshape([rows, -1]);
      return { logits: this.model.logits(last) as tf.Tensor2D, present };
    });
  }

  abstract prefill(prompts: readonly (readonly number[])[], adapterRows?: readonly boolean[]): tf.Tensor2D;
  abstract step(ids: readonly number[], adapterRows?: readonly boolean[]): tf.Tensor2D;
  abstract dispose(): void;
}

/** The fused decode step (kernels/decode.ts) over a cache preallocated to `capacity`. */
class FusedSession extends SessionBase {
  readonly fused = true;
  readonly fallbackReason = null;
  private readonly decode: FusedDecodeStep;

  constructor(model: Decoder, opts: DecodeSessionOptions) {
    super(model, opts);
    const rope = ropeTable(model.config, opts.capacity);
    try {
      const weights: DecodeWeights = {
        embed: weightOf(model, 'model.embed_tokens.weight'),
        finalNorm: weightOf(model, 'model.norm.weight'),
        head: weightOf(model, model.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'),
        layers: decodeLayers(model, this.adapter),
        cos: rope.cos,
        sin: rope.sin,
      };
      this.decode = new FusedDecodeStep(tf.backend(), decodeShape(model, opts), weights);
    } finally {
      tf.dispose([rope.cos, rope.sin]);
    }
  }

  /** GPU dispatches of one step. */
  get dispatchesPerStep(): number {
    return this.decode.dispatchesPerStep;
  }

  prefill(prompts: readonly (readonly number[])[], adapterRows?: readonly boolean[]): tf.Tensor2D {
    const { ids, mask } = this.padded(prompts);
    const { logits, present } = this.forward(ids, mask, undefined, this.flags(adapterRows));
    present.keys.forEach((k, i) => this.decode.fill(i, k, present.values[i]!));
    tf.dispose([...present.keys, ...present.values]);
    return logits;
  }

  step(ids: readonly number[], adapterRows?: readonly boolean[]): tf.Tensor2D {
    const slot = this.nextSlot(ids);
    const on = this.flags(adapterRows);
    const words = new Int32Array(STEP_WORDS);
    for (let r = 0; r < this.rows; r++) {
      const pad = this.width - this.promptLens[r]!;
      words.set([ids[r]!, slot - pad, on[r] ? 1 : 0, pad], 4 * r);
    }
    words.set([slot + 1, on.some(Boolean) ? 1 : 0, 0, 0], 4 * MAX_DECODE_ROWS);
    const logits = this.decode.step(words);
    this.steps++;
    return logits;
  }

  dispose(): void {
    this.decode.dispose();
  }
}

/** Any backend and family: the model's forward over one token per row, with past keys and values. */
class ForwardSession extends SessionBase {
  readonly fused = false;
  private past: PastKeyValues | undefined;
  private mask: number[][] = [];

  constructor(
    model: Decoder,
    opts: DecodeSessionOptions,
    readonly fallbackReason: string,
  ) {
    super(model, opts);
  }

  prefill(prompts: readonly (readonly number[])[], adapterRows?: readonly boolean[]): tf.Tensor2D {
    const { ids, mask } = this.padded(prompts);
    this.mask = mask;
    return this.run(ids, adapterRows);
  }

  step(ids: readonly number[], adapterRows?: readonly boolean[]): tf.Tensor2D {
    this.nextSlot(ids);
    this.mask = this.mask.map((m) => [...m, 1]);
    const logits = this.run(
      ids.map((id) => [id]),
      adapterRows,
    );
    this.steps++;
    return logits;
  }

  private run(ids: number[][], adapterRows: readonly boolean[] | undefined): tf.Tensor2D {
    const { logits, present } = this.forward(ids, this.mask, this.past, this.flags(adapterRows));
    this.disposePast();
    this.past = present;
    return logits;
  }

  private disposePast(): void {
    if (this.past) tf.dispose([...this.past.keys, ...this.past.values]);
    this.past = undefined;
  }

  dispose(): void {
    this.disposePast();
  }
}

/** The RowLogits of generate-rows (prefill, step, dispose) over a decode session. */
export interface SessionRowLogits {
  prefill(prompts: readonly (readonly number[])[]): tf.Tensor2D;
  step(ids: readonly number[]): tf.Tensor2D;
  dispose(): void;
}

/**
 * A `logits` factory for generate-rows: each generation gets a session whose cache holds its
 * longest prompt plus `maxNewTokens`, created at prefill. `padId` is unused: padding never reaches
 * attention (the cache masks it).
 */
export function decodeRowLogits(
  maxNewTokens: number,
  session: Pick<DecodeSessionOptions, 'fused'> = {},
): (model: Decoder, adapters: { adapter: LoraAdapter | null | undefined; rows: readonly boolean[] }, padId: number) => SessionRowLogits {
  return (model, adapters) => {
    let current: DecodeSession | undefined;
    return {
      prefill(prompts) {
        if (current) throw new Error('decodeRowLogits: prefill runs once, first');
        const width = Math.max(...prompts.map((p) => p.length));
        current = createDecodeSession(model, { ...session, rows: prompts.length, capacity: width + Math.max(1, maxNewTokens), adapter: adapters.adapter });
        return current.prefill(prompts, adapters.rows);
      },
      step(ids) {
        if (!current) throw new Error('decodeRowLogits: prefill first');
        return current.step(ids, adapters.rows);
      },
      dispose() {
        current?.dispose();
        current = undefined;
      },
    };
  };
}
