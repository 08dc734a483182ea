import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bucketFor, bucketSizes, makeBatches, padIdOf, type Batch } from '../../src/engine/data/batches';
import { buildExamples } from '../../src/engine/data/examples';
import { loadDataset, type SourcedSample } from '../../src/engine/data/load';
import { packRows } from '../../src/engine/data/packing';
import { mulberry32, shuffled } from '../../src/engine/rng';
import { splitTrainVal } from '../../src/engine/data/split';
import type { TokenizedExample } from '../../src/engine/data/types';
import { DATA_DIR } from '../helpers/paths';
import { loadStoriesTokenizer } from '../helpers/stories-tokenizer';

const MAX = 128;
let examples: TokenizedExample[];
let pad: number;

beforeAll(async () => {
  const tok = await loadStoriesTokenizer();
  pad = padIdOf(tok);
  const story = await loadDataset({ name: 's', source: new Uint8Array(readFileSync(join(DATA_DIR, 'story-instruct/train.jsonl'))) });
  // A spread of lengths: stories (~120 tokens), alpaca-102 (many truncated to 128) and short texts.
  const alpaca = await loadDataset({ name: 'a', source: new Uint8Array(readFileSync(join(DATA_DIR, 'alpaca-102/alpaca_data_102.json'))) });
  const short: SourcedSample[] = Array.from({ length: 60 }, (_, k) => ({
    file: 't',
    line: k + 1,
    sample: { kind: 'text', text: 'Once upon a time there was a cat. '.repeat(1 + (k % 12)) },
  }));
  const samples = [...story.samples.slice(0, 100), ...alpaca.samples, ...short];
  examples = buildExamples(samples, tok, { template: 'alpaca', maxLength: MAX, trainOn: 'responses' }).examples;
});

const count = (a: Int32Array, f: (x: number) => boolean) => a.reduce((n, x) => n + (f(x) ? 1 : 0), 0);
const opts = (o: Partial<Parameters<typeof makeBatches>[1]> = {}) => ({ batchSize: 4, maxLength: MAX, padId: pad, seed: 1, ...o });

function checkBatch(b: Batch, packed = false) {
  const T = b.seqLen;
  expect(b.inputIds).toHaveLength(b.batchSize * T);
  expect(b.targets).toHaveLength(b.batchSize * T);
  expect(b.attentionMask).toHaveLength(b.batchSize * T);
  expect(b.trainedTokens).toBe(count(b.targets, (x) => x !== -1));
  for (let i = 0; i < b.inputIds.length; i++) {
    if (b.attentionMask[i] === 0) {
      expect(b.targets[i]).toBe(-1);
      expect(b.inputIds[i]).toBe(pad);
    }
  }
  if (!packed) {
    b.exampleIds.forEach((id, r) => {
      const e = examples[id]!;
      const row = (a: Int32Array) => [...a.subarray(r * T, (r + 1) * T)];
      expect(row(b.inputIds).slice(0, e.inputIds.length)).toEqual(e.inputIds);
      expect(row(b.attentionMask)).toEqual(Array.from({ length: T }, (_, t) => (t < e.inputIds.length ? 1 : 0)));
      expect(row(b.targets)).toEqual(Array.from({ length: T }, (_, t) => (t + 1 < e.inputIds.length && e.lossMask[t + 1] ? e.inputIds[t + 1] : -1)));
    });
  }
}

describe('buckets', () => {
  it('powers of two up to maxLength, or multiples', () => {
    expect(bucketSizes(128)).toEqual([16, 32, 64, 128]);
    expect(bucketSizes(200)).toEqual([16, 32, 64, 128, 200]);
    expect(bucketSizes(100, { multiple: 32 })).toEqual([32, 64, 96, 100]);
    expect(bucketFor(33, [16, 32, 64])).toBe(64);
    expect(() => bucketFor(65, [16, 32, 64])).toThrow(/longer than the largest bucket/);
  });
});

describe('batches', () => {
  it('have shapes from the bucket set, hold every example once, and pad only with -1 targets', () => {
    const batches = makeBatches(examples, opts());
    const buckets = bucketSizes(MAX);
    const seen: number[] = [];
    for (const b of batches) {
      expect(buckets).toContain(b.seqLen);
      expect(b.batchSize).toBe(4);
      for (const id of b.exampleIds) {
        const L = examples[id]!.inputIds.length;
        expect(bucketFor(L, buckets)).toBe(b.seqLen); // the smallest bucket that holds it
      }
      checkBatch(b);
      seen.push(...b.exampleIds);
    }
    expect(seen.sort((a, b) => a - b)).toEqual(examples.map((_, i) => i));
    expect(new Set(batches.map((b) => b.seqLen)).size).toBeGreaterThan(1);
  });

  it('trainedTokens add up to the trained targets of the examples', () => {
    const batches = makeBatches(examples, opts());
    const total = examples.reduce((n, e) => n + e.lossMask.filter((m) => m === 1).length, 0);
    expect(batches.reduce((n, b) => n + b.trainedTokens, 0)).toBe(total);
  });

  it('fill a partial batch with empty rows, keeping the shape', () => {
    const batches = makeBatches(examples.slice(0, 5), opts({ batchSize: 4, buckets: [MAX] }));
    expect(batches.map((b) => b.exampleIds.length).sort()).toEqual([1, 4]);
    const partial = batches.find((b) => b.exampleIds.length === 1)!;
    expect(partial.batchSize).toBe(4);
    expect(count(partial.attentionMask.subarray(MAX), (x) => x !== 0)).toBe(0);
    checkBatch(partial);
  });

  it('same seed, same order; another seed, another order; shuffle off keeps the input order', () => {
    const ids = (bs: Batch[]) => bs.map((b) => b.exampleIds);
    expect(ids(makeBatches(examples, opts({ seed: 7 })))).toEqual(ids(makeBatches(examples, opts({ seed: 7 }))));
    expect(ids(makeBatches(examples, opts({ seed: 7 })))).not.toEqual(ids(makeBatches(examples, opts({ seed: 8 }))));
    const plain = makeBatches(examples, opts({ shuffle: false, buckets: [MAX] }));
    expect(plain.flatMap((b) => b.exampleIds)).toEqual(examples.map((_, i) => i));
  });

  it('pack examples into rows of maxLength without training across boundaries', () => {
    const batches = makeBatches(examples, opts({ packing: true, batchSize: 2 }));
    const ids: number[] = [];
    for (const b of batches) {
      expect(b.seqLen).toBe(MAX);
      checkBatch(b, true);
      ids.push(...b.exampleIds);
      for (let r = 0; r < b.batchSize; r++) {
        for (let t = 0; t < MAX; t++) {
          const i = r * MAX + t;
          const seg = b.segmentIds![i]!;
          expect(seg === 0).toBe(b.attentionMask[i] === 0);
          // The last token of a segment never predicts the next segment's first token.
          if (t + 1 < MAX && seg !== 0 && b.segmentIds![i + 1] !== seg) expect(b.targets[i]).toBe(-1);
          if (seg !== 0 && t > 0 && b.segmentIds![i - 1] === seg) expect(b.positionIds![i]).toBe(b.positionIds![i - 1]! + 1);
          if (seg !== 0 && (t === 0 || b.segmentIds![i - 1] !== seg)) expect(b.positionIds![i]).toBe(0);
        }
      }
    }
    expect(ids.sort((a, b) => a - b)).toEqual(examples.map((_, i) => i));
    const total = examples.reduce((n, e) => n + e.lossMask.filter((m) => m === 1).length, 0);
    expect(batches.reduce((n, b) => n + b.trainedTokens, 0)).toBe(total);
    expect(batches.length).toBeLessThan(makeBatches(examples, opts({ batchSize: 2 })).length);
  });

  it('packRows is next-fit and never splits an example', () => {
    const rows = packRows([5, 4, 3, 8, 1].map((length, id) => ({ id, length })), 10);
    expect(rows).toEqual([[0, 1], [2], [3, 4]]);
    expect(() => packRows([{ id: 0, length: 11 }], 10)).toThrow();
  });
});

describe('rng and split', () => {
  it('mulberry32 is deterministic and in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 0.5)).toBeLessThan(0.05);
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });

  it('shuffled is a seeded permutation', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    expect(shuffled(items, 3)).toEqual(shuffled(items, 3));
    expect(shuffled(items, 3)).not.toEqual(items);
    expect([...shuffled(items, 3)].sort((a, b) => a - b)).toEqual(items);
  });

  it('splits by fraction or count, reproducibly, keeping groups together', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const s = splitTrainVal(items, { seed: 1, valFraction: 0.1 });
    expect(s.val).toHaveLength(10);
    expect(s.train).toHaveLength(90);
    expect([...s.train, ...s.val].sort((a, b) => a - b)).toEqual(items);
    expect(splitTrainVal(items, { seed: 1, valFraction: 0.1 })).toEqual(s);
    expect(splitTrainVal(items, { seed: 2, valFraction: 0.1 }).val).not.toEqual(s.val);
    expect(splitTrainVal(items, { seed: 1, valCount: 7 }).val).toHaveLength(7);
    expect(splitTrainVal(items, { seed: 1 }).val).toEqual([]);
    expect(splitTrainVal([1, 2], { seed: 1, valFraction: 0.9 }).train).toHaveLength(1);
    const grouped = splitTrainVal(items, { seed: 5, valCount: 10 }, (x) => Math.floor(x / 4));
    const valGroups = new Set(grouped.val.map((x) => Math.floor(x / 4)));
    for (const x of grouped.train) expect(valGroups.has(Math.floor(x / 4))).toBe(false);
    expect(grouped.val.length).toBeGreaterThanOrEqual(10);
  });
});
