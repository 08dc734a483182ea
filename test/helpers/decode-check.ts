// Checks a decode session (src/engine/generate/decode-session.ts) against recomputing the whole
// sequence: after the prefill and after every step, each row's logits must equal the model's
// forward over that row's tokens alone (unpadded, with the adapter exactly when the row has it).
import { tf } from '../../src/engine/tf';
import type { Decoder } from '../../src/engine/model/decoder';
import { createLoraAdapter, type LoraAdapter } from '../../src/engine/lora/lora';
import type { LinearModule } from '../../src/engine/model/linears';
import { createDecodeSession, type DecodeSession } from '../../src/engine/generate/decode-session';
import { installDispatchCounter, since, snapshot } from '../../bench/lib/dispatch';
import { mulberry32 } from '../../src/engine/rng';
import { maxRelativeError } from './numerics';
import { randomIds } from './model-forward';

/** An adapter whose B is random (a fresh B = 0 would change nothing, and the check could not fail). */
export function changingAdapter(model: Decoder, targetModules: LinearModule[], r: number, seed: number): LoraAdapter {
  const adapter = createLoraAdapter(model.config, { r, alpha: 2 * r, dropout: 0, useRslora: false, targetModules }, mulberry32(seed));
  const random = mulberry32(seed + 1);
  for (const l of adapter.layers.values()) {
    l.b.assign(tf.tidy(() => tf.tensor(Array.from({ length: l.b.size }, () => (random() * 2 - 1) * 0.5), l.b.shape)));
  }
  return adapter;
}

/** Last-position logits of `ids` (one unpadded row) by the model's forward over all of them. */
export async function recomputedLogits(model: Decoder, ids: number[], adapter: LoraAdapter | null): Promise<Float32Array> {
  const logits = tf.tidy(() => {
    const { hidden } = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'), { adapter });
    return model.logits(hidden.slice([0, ids.length - 1, 0], [1, 1, -1]));
  });
  const data = (await logits.data()) as Float32Array;
  logits.dispose();
  return data;
}

export interface DecodeCheck {
  fused: boolean;
  /** The worst relative error of any row after the prefill and each step. */
  maxError: number;
  /** GPU dispatches of each step (empty off WebGPU). */
  dispatches: number[];
  /** tf.memory().numTensors after each step, its logits disposed. */
  tensors: number[];
  /** Whether the adapter rows' logits differ from what the base model gives (so the adapter did something). */
  adapterChanged: boolean;
}

export interface DecodeCase {
  prompts: number[][];
  adapterRows: boolean[];
  adapter: LoraAdapter | null;
  steps: number;
  seed: number;
  /**
   * 'rows' (default): each row recomputed alone, unpadded. 'batch': all rows in one left-padded
   * forward with a key mask and the adapter masked per row — one shape per step instead of one per
   * row, for long prompts on a slow adapter.
   */
  reference?: 'rows' | 'batch';
}

/** Last-position logits of every row, left-padded into one forward (see DecodeCase.reference). */
export async function recomputedBatchLogits(model: Decoder, seqs: number[][], adapterRows: boolean[], adapter: LoraAdapter | null): Promise<Float32Array> {
  const width = Math.max(...seqs.map((q) => q.length));
  const pad = (q: number[]) => new Array<number>(width - q.length).fill(0);
  const logits = tf.tidy(() => {
    const ids = tf.tensor2d(seqs.map((q) => [...pad(q), ...q]), [seqs.length, width], 'int32');
    const attentionMask = tf.tensor2d(seqs.map((q) => [...pad(q), ...q.map(() => 1)]), [seqs.length, width], 'int32');
    const { hidden } = model.forward(ids, { attentionMask, adapter, adapterRows });
    return model.logits(hidden.slice([0, width - 1, 0], [seqs.length, 1, -1]));
  });
  const data = (await logits.data()) as Float32Array;
  logits.dispose();
  return data;
}

/** Runs `c` through a session and through full recomputation, row by row. */
export async function checkDecode(model: Decoder, c: DecodeCase): Promise<DecodeCheck> {
  const rows = c.prompts.length;
  const width = Math.max(...c.prompts.map((p) => p.length));
  const session: DecodeSession = createDecodeSession(model, { rows, capacity: width + c.steps, adapter: c.adapter });
  const seqs = c.prompts.map((p) => [...p]);
  const counter = installDispatchCounter();
  const out: DecodeCheck = { fused: session.fused, maxError: 0, dispatches: [], tensors: [], adapterChanged: false };
  const compare = async (logits: tf.Tensor2D) => {
    const got = (await logits.data()) as Float32Array;
    logits.dispose();
    const vocab = model.config.vocabSize;
    if (c.reference === 'batch') {
      const on = c.adapterRows.map((a) => a && !!c.adapter);
      out.maxError = Math.max(out.maxError, maxRelativeError(await recomputedBatchLogits(model, seqs, on, c.adapter), got));
      if (!out.adapterChanged && on.some(Boolean)) {
        const base = await recomputedBatchLogits(model, seqs, on.map(() => false), null);
        out.adapterChanged = on.some((a, r) => a && maxRelativeError(base.subarray(r * vocab, (r + 1) * vocab), got.subarray(r * vocab, (r + 1) * vocab)) > 1e-3);
      }
      return;
    }
    for (let r = 0; r < rows; r++) {
      const on = c.adapterRows[r]! && !!c.adapter;
      const ref = await recomputedLogits(model, seqs[r]!, on ? c.adapter : null);
      const row = got.subarray(r * vocab, (r + 1) * vocab);
      out.maxError = Math.max(out.maxError, maxRelativeError(ref, row));
      if (on && !out.adapterChanged) out.adapterChanged = maxRelativeError(await recomputedLogits(model, seqs[r]!, null), row) > 1e-3;
    }
  };
  try {
    await compare(session.prefill(c.prompts, c.adapterRows));
    const random = mulberry32(c.seed);
    for (let s = 0; s < c.steps; s++) {
      const ids = randomIds(rows, model.config.vocabSize, Math.floor(random() * 1e9));
      ids.forEach((id, r) => seqs[r]!.push(id));
      const before = counter ? snapshot(counter) : null;
      const logits = session.step(ids, c.adapterRows);
      if (counter && before) out.dispatches.push(since(counter, before).dispatches);
      await compare(logits);
      out.tensors.push(tf.memory().numTensors);
    }
  } finally {
    session.dispose();
  }
  return out;
}
