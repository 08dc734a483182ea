// Next-token logits for every row of a batched generation: the one seam between generate-rows.ts
// and how a model computes them. The default is a decode session (decode-session.ts: the KV
// cache preallocated, the fused decode step on WebGPU for the Llama family, the model's forward
// with past keys and values elsewhere); anything else that computes them plugs in here.
import type { tf } from '../tf';
import type { LoraAdapter } from '../lora/lora';
import type { Decoder } from '../model/decoder';

export interface RowLogits {
  /**
   * The prompts, one per row (left-padded to one length inside): logits [rows, vocab] of each
   * row's last prompt token. Called once, first.
   */
  prefill(prompts: readonly (readonly number[])[]): tf.Tensor2D;
  /** One new token per row: logits [rows, vocab] after it. The caller disposes what it gets. */
  step(ids: readonly number[]): tf.Tensor2D;
  /** Releases the cache. */
  dispose(): void;
}

/** Which adapter, and which rows it applies to. */
export interface RowAdapters {
  adapter: LoraAdapter | null | undefined;
  /** Per row: whether the adapter applies. */
  rows: readonly boolean[];
}

/** Makes the RowLogits of one generation. */
export type RowLogitsFactory = (model: Decoder, adapters: RowAdapters, padId: number) => RowLogits;
