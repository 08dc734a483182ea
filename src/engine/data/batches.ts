// Micro-batches for the trainer. Every example is right-padded to the smallest bucket length
// that holds it, so the number of distinct tensor shapes (and so of compiled WebGPU programs)
// stays at the number of buckets; a bucket's last, partial batch is filled with empty rows
// for the same reason. Targets are precomputed: the loss is a masked cross-entropy over them.
import type { TextTokenizer } from '../model/tokenizer';
import { packRows } from './packing';
import { mulberry32, shuffleInPlace } from '../rng';
import type { TokenizedExample } from './types';

export interface Batch {
  /** [batchSize, seqLen] row-major; padding holds the pad id. */
  inputIds: Int32Array;
  /** [batchSize, seqLen]: targets[t] = inputIds[t + 1] when that token is trained, else -1 (padding, masked, last position). */
  targets: Int32Array;
  /** [batchSize, seqLen]: 1 on real tokens, 0 on padding. */
  attentionMask: Int32Array;
  /** Rows, including empty padding rows past exampleIds.length. */
  batchSize: number;
  seqLen: number;
  /** Count of targets != -1: the denominator of this batch's share of the mean loss. */
  trainedTokens: number;
  /** Indices into the examples given to makeBatches, in row order (several per row when packed). */
  exampleIds: number[];
  /** Packed batches only: 1-based number of the example within its row, 0 on padding. */
  segmentIds?: Int32Array;
  /** Packed batches only: each token's position within its own example. */
  positionIds?: Int32Array;
}

export type BatchExample = Pick<TokenizedExample, 'inputIds' | 'lossMask'>;

export interface BatchOptions {
  batchSize: number;
  maxLength: number;
  padId: number;
  /** Seed of the example and batch order; use a different one per epoch. Default 0. */
  seed?: number;
  /** Default true; false keeps the input order (batches ordered by their first example). */
  shuffle?: boolean;
  /** Row lengths to pad to; default bucketSizes(maxLength). */
  buckets?: number[];
  /**
   * Concatenate examples into rows of maxLength instead of padding each. Targets across an
   * example boundary are -1, but attention is NOT blocked between examples in a row unless the
   * model uses segmentIds; positionIds restart per example for models that take them.
   */
  packing?: boolean;
}

/** Powers of two from `min` below maxLength, then maxLength; or multiples of `multiple`. */
export function bucketSizes(maxLength: number, opts: { multiple?: number; min?: number } = {}): number[] {
  const sizes: number[] = [];
  if (opts.multiple) {
    for (let s = opts.multiple; s < maxLength; s += opts.multiple) sizes.push(s);
  } else {
    for (let s = opts.min ?? 16; s < maxLength; s *= 2) sizes.push(s);
  }
  sizes.push(maxLength);
  return sizes;
}

/** The pad id the batches use: the tokenizer's, else EOS (padding is never a target, so either is safe). */
export function padIdOf(tok: TextTokenizer): number {
  const id = tok.padTokenId ?? tok.eosTokenId;
  if (id === null) throw new Error('the tokenizer has neither a pad nor an EOS token');
  return id;
}

export function makeBatches(examples: readonly BatchExample[], opts: BatchOptions): Batch[] {
  const B = opts.batchSize;
  if (!(B >= 1)) throw new Error(`batchSize must be >= 1, got ${B}`);
  const random = mulberry32(opts.seed ?? 0);
  const shuffle = opts.shuffle ?? true;
  const order = examples.map((_, i) => i);
  if (shuffle) shuffleInPlace(order, random);

  let rows: { length: number; ids: number[] }[];
  if (opts.packing) {
    rows = packRows(order.map((i) => ({ id: i, length: examples[i]!.inputIds.length })), opts.maxLength).map((ids) => ({
      length: opts.maxLength,
      ids,
    }));
  } else {
    const buckets = [...(opts.buckets ?? bucketSizes(opts.maxLength))].sort((a, b) => a - b);
    rows = order.map((i) => ({ length: bucketFor(examples[i]!.inputIds.length, buckets), ids: [i] }));
  }

  // Group rows by length, keeping their order, then cut each group into batches of B rows.
  const byLength = new Map<number, number[][]>();
  for (const r of rows) {
    const group = byLength.get(r.length);
    if (group) group.push(r.ids);
    else byLength.set(r.length, [r.ids]);
  }
  const batches: Batch[] = [];
  for (const [T, group] of byLength) {
    for (let s = 0; s < group.length; s += B) batches.push(buildBatch(examples, group.slice(s, s + B), B, T, opts));
  }
  if (shuffle) shuffleInPlace(batches, random);
  else batches.sort((a, b) => a.exampleIds[0]! - b.exampleIds[0]!);
  return batches;
}

export function bucketFor(length: number, sortedBuckets: readonly number[]): number {
  for (const b of sortedBuckets) if (length <= b) return b;
  throw new Error(`an example of ${length} tokens is longer than the largest bucket (${sortedBuckets.at(-1)})`);
}

function buildBatch(examples: readonly BatchExample[], rows: number[][], B: number, T: number, opts: BatchOptions): Batch {
  const inputIds = new Int32Array(B * T).fill(opts.padId);
  const targets = new Int32Array(B * T).fill(-1);
  const attentionMask = new Int32Array(B * T);
  const segmentIds = opts.packing ? new Int32Array(B * T) : undefined;
  const positionIds = opts.packing ? new Int32Array(B * T) : undefined;
  let trainedTokens = 0;
  const exampleIds: number[] = [];
  rows.forEach((row, r) => {
    let col = 0;
    row.forEach((id, seg) => {
      const { inputIds: ids, lossMask } = examples[id]!;
      const L = ids.length;
      if (col + L > T) throw new Error(`example ${id} (${L} tokens) does not fit a row of ${T}`);
      const base = r * T + col;
      for (let t = 0; t < L; t++) {
        inputIds[base + t] = ids[t]!;
        attentionMask[base + t] = 1;
        // Position t predicts token t+1; the last token of an example predicts nothing, which
        // also keeps packed examples from predicting their neighbour.
        if (t + 1 < L && lossMask[t + 1] === 1) {
          targets[base + t] = ids[t + 1]!;
          trainedTokens++;
        }
        if (segmentIds) segmentIds[base + t] = seg + 1;
        if (positionIds) positionIds[base + t] = t;
      }
      col += L;
      exampleIds.push(id);
    });
  });
  const batch: Batch = { inputIds, targets, attentionMask, batchSize: B, seqLen: T, trainedTokens, exampleIds };
  if (segmentIds) batch.segmentIds = segmentIds;
  if (positionIds) batch.positionIds = positionIds;
  return batch;
}
