// Next-token logits for every row of a batched generation: the one seam between generate-rows.ts
// and how a model computes them. `forwardRowLogits` runs the model's own forward with past keys
// and values (any backend, any family); a fused decode step with a preallocated KV cache plugs
// in by implementing RowLogits.
import { tf } from '../tf';
import type { Decoder, PastKeyValues } from '../model/decoder';
import type { LoraAdapter } from '../lora/lora';

export interface RowLogits {
  /**
   * The prompts, one per row, left-padded to one length: logits [rows, vocab] of each row's last
   * prompt token. Called once, first.
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

/**
 * The model's forward over [rows, 1] per step, reusing the past keys and values, with a key mask
 * that keeps each row's left padding out of its attention (and out of its positions).
 */
export function forwardRowLogits(model: Decoder, adapters: RowAdapters, padId: number): RowLogits {
  let past: PastKeyValues | undefined;
  /** [rows][past length]: 1 for real tokens, 0 for padding. */
  let mask: number[][] = [];
  const adapterRows = adapters.rows.slice();
  const adapter = adapterRows.some(Boolean) ? adapters.adapter : null;

  const run = (ids: number[][]): tf.Tensor2D => {
    const rows = ids.length;
    const seq = ids[0]!.length;
    const out = tf.tidy(() => {
      const x = tf.tensor2d(ids.flat(), [rows, seq], 'int32');
      const attentionMask = tf.tensor2d(mask.flat(), [rows, mask[0]!.length], 'int32');
      const { hidden, present } = model.forward(x, { past, attentionMask, adapter, adapterRows });
      const last = hidden.slice([0, seq - 1, 0], [rows, 1, -1]).reshape([rows, -1]);
      return { logits: model.logits(last) as tf.Tensor2D, present };
    });
    disposePast(past);
    past = out.present;
    return out.logits;
  };

  return {
    prefill(prompts) {
      if (past) throw new Error('forwardRowLogits: prefill runs once, first');
      if (prompts.length !== adapterRows.length) throw new Error(`forwardRowLogits: ${prompts.length} prompts for ${adapterRows.length} adapter rows`);
      const width = Math.max(...prompts.map((p) => p.length));
      const pad = (p: readonly number[]) => new Array<number>(width - p.length);
      mask = prompts.map((p) => [...pad(p).fill(0), ...p.map(() => 1)]);
      return run(prompts.map((p) => [...pad(p).fill(padId), ...p]));
    },
    step(ids) {
      if (!past) throw new Error('forwardRowLogits: prefill first');
      mask = mask.map((m) => [...m, 1]);
      return run(ids.map((id) => [id]));
    },
    dispose() {
      disposePast(past);
      past = undefined;
    },
  };
}

function disposePast(past: PastKeyValues | undefined): void {
  if (past) tf.dispose([...past.keys, ...past.values]);
}
