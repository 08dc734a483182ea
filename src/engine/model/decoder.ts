// What every decoder family shares, so that a family's file (llama.ts, gemma3.ts) holds
// only its forward pass: weights by name, a linear's parameters with the adapter's LoRA branch,
// the rotary tables (one per RoPE base), the lm_head, and the options and results of a forward.
import { tf } from '../tf';
import type { ModelConfig } from './config';
import type { WeightMap } from './weights';
import { loraBranch, type LoraAdapter } from '../lora/lora';
import { ropeTable, type RopeTable } from './rope';
import { linear, type Dense, type LoraBranch } from '../../../kernels';
import { isHalf, type FrozenWeight } from '../../../kernels/half';

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
  /**
   * Per row of the batch, whether the adapter applies (absent: every row). Base and tuned rows
   * then run in one batch: a row without it gets exactly the frozen model's output.
   */
  adapterRows?: readonly boolean[];
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

/** What a rotary table depends on: the full layers' RoPE is the config itself. */
export type RopeSpec = Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>;

export abstract class Decoder {
  /** One table per RoPE the layers use (Gemma 3 has two), keyed by base and scaling. */
  private ropes = new Map<string, RopeTable>();
  private rowMasks = new WeakMap<readonly boolean[], tf.Tensor>();

  constructor(
    readonly config: ModelConfig,
    readonly weights: WeightMap,
  ) {}

  /** Final hidden states (call inside tf.tidy). */
  abstract forward(inputIds: tf.Tensor2D, opts?: ForwardOptions): ForwardResult;

  /** Vocabulary logits for hidden states [..., hidden] -> [..., vocab]. */
  logits(hidden: tf.Tensor): tf.Tensor {
    return linear(hidden, { w: this.headWeight() });
  }

  /** The lm_head weight [vocab, hidden] (the embedding matrix when tied). */
  headWeight(): FrozenWeight {
    return this.frozen(this.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
  }

  /** Releases what the model derived from its weights (the weights themselves are the caller's). */
  dispose(): void {
    for (const r of this.ropes.values()) tf.dispose([r.cos, r.sin]);
    this.ropes.clear();
  }

  /** A float32 weight (norms, biases: never stored in halves). */
  protected w(name: string): tf.Tensor {
    const t = this.frozen(name);
    if (isHalf(t)) throw new Error(`weight ${name} is stored in float16 (precision f16-base); this use needs it in float32`);
    return t;
  }

  /** A matmul weight: float32, or halves under precision 'f16-base' (which only the kernels' ops take). */
  protected frozen(name: string): FrozenWeight {
    const t = this.weights.get(name);
    if (!t) throw new Error(`weight ${name} is not loaded`);
    return t;
  }

  /** The linear module at `path` (e.g. "model.layers.0.mlp.up_proj") with its bias and LoRA branch. */
  protected dense(path: string, opts: ForwardOptions): Dense {
    return { w: this.frozen(`${path}.weight`), bias: this.weights.has(`${path}.bias`) ? this.w(`${path}.bias`) : undefined, lora: this.rowsOf(loraBranch(opts.adapter, path, opts), opts.adapterRows) };
  }

  /** The branch for `adapterRows`: none when no row has the adapter, masked when some lack it. */
  private rowsOf(lora: LoraBranch | undefined, rows: readonly boolean[] | undefined): LoraBranch | undefined {
    if (!lora || !rows || rows.every(Boolean)) return lora;
    if (!rows.some(Boolean)) return undefined;
    // One mask per forward (the linears share it); a tidy that ended disposed the last one.
    let mask = this.rowMasks.get(rows);
    if (!mask || mask.isDisposed) this.rowMasks.set(rows, (mask = tf.tensor1d(rows.map(Number), 'float32')));
    return { ...lora, rowMask: mask };
  }

  /**
   * cos/sin of each token's rotary angles, [B, 1, T, headDim], gathered from tables computed
   * in float64 on the host: GPU sin/cos are only accurate to ~2⁻¹¹ (Vulkan's bound), which
   * alone moved logits by 2.5e-4 relative on SwiftShader.
   */
  protected rotary(positions: tf.Tensor2D, needed: number, spec: RopeSpec = this.config): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
    const key = `${spec.headDim}:${spec.ropeTheta}:${JSON.stringify(spec.ropeScaling)}`;
    let rope = this.ropes.get(key);
    if (!rope || rope.length < needed) {
      const grown = Math.max(needed, rope ? rope.length * 2 : 256);
      if (rope) tf.dispose([rope.cos, rope.sin]);
      rope = ropeTable(spec, grown);
      this.ropes.set(key, rope);
    }
    const idx = positions.toInt();
    return {
      cos: tf.gather(rope.cos, idx).expandDims(1) as tf.Tensor4D,
      sin: tf.gather(rope.sin, idx).expandDims(1) as tf.Tensor4D,
    };
  }
}

/**
 * Position of each of the last `seq` tokens: the count of real tokens before it, so
 * left-padded prompts in a batch rotate exactly like unpadded ones (as HF's generate does).
 */
export function positionIds(mask: tf.Tensor2D, seq: number): tf.Tensor2D {
  const total = mask.shape[1];
  const pos = tf.cumsum(mask.toFloat(), 1).sub(1).maximum(0);
  return pos.slice([0, total - seq], [-1, seq]) as tf.Tensor2D;
}
