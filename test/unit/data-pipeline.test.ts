import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatIssue, makeBatches, padIdOf, prepareDataset, summarizeReport } from '../../src/engine/data';
import type { TextTokenizer } from '../../src/engine/model/tokenizer';
import { DATA_DIR } from '../helpers/paths';
import { loadStoriesChatmlTokenizer, loadStoriesTokenizer } from '../helpers/stories-tokenizer';

let tok: TextTokenizer;
beforeAll(async () => {
  tok = await loadStoriesTokenizer();
});
const real = (rel: string) => ({ name: rel, source: new Uint8Array(readFileSync(join(DATA_DIR, rel))) });

describe('prepareDataset', () => {
  it('story-instruct: alpaca, 600 examples, a seeded 10% validation split', async () => {
    const p = await prepareDataset(real('story-instruct/train.jsonl'), tok, { maxLength: 128, valFraction: 0.1, seed: 3 });
    expect(p.template).toBe('alpaca');
    expect(p.report.files[0]).toMatchObject({ format: 'alpaca', detected: true });
    expect(p.report.counts).toMatchObject({ records: 600, good: 600, bad: 0, examples: 600, truncated: 0, dropped: 0, train: 540, val: 60 });
    expect(p.report.lengths).toHaveLength(600);
    expect(p.report.counts.trainedTokens).toBe([...p.train, ...p.val].reduce((n, e) => n + e.lossMask.filter((m) => m === 1).length, 0));
    expect(p.report.issues).toEqual([]);
    expect(p.report.warnings).toEqual([]);
    const again = await prepareDataset(real('story-instruct/train.jsonl'), tok, { maxLength: 128, valFraction: 0.1, seed: 3 });
    expect(again.val.map((e) => e.line)).toEqual(p.val.map((e) => e.line));
    const batches = makeBatches(p.train, { batchSize: 8, maxLength: 128, padId: padIdOf(tok), seed: 0 });
    expect(batches.reduce((n, b) => n + b.exampleIds.length, 0)).toBe(540);
  });

  it('reads a Node file stream (Buffers are Uint8Arrays) and reports progress', async () => {
    const progress: number[] = [];
    const p = await prepareDataset({ name: 'train.jsonl', source: createReadStream(join(DATA_DIR, 'story-instruct/train.jsonl'), { highWaterMark: 1000 }) }, tok, {
      maxLength: 128,
      onProgress: (done, total) => {
        expect(total).toBe(600);
        progress.push(done);
      },
    });
    expect(p.report.counts.examples).toBe(600);
    expect(progress).toEqual([0, 256, 512, 600]);
  });

  it('gsm8k with a column mapping, truncation reported', async () => {
    const p = await prepareDataset(real('gsm8k/test.jsonl'), tok, { maxLength: 256, columns: { prompt: 'question', response: 'answer' }, valCount: 100 });
    const c = p.report.counts;
    expect(c).toMatchObject({ records: 1319, good: 1319, bad: 0, examples: 1319, val: expect.any(Number) });
    expect(c.truncated).toBeGreaterThan(0);
    expect(c.truncated).toBe(p.report.truncated.length);
    expect(c.train + c.val + c.dropped).toBe(1319);
    expect(c.val).toBe(100);
    expect(p.train.every((e) => e.inputIds.length <= 256)).toBe(true);
  });

  it('reports every bad line and dropped example, and the summary lists them', async () => {
    const long = 'Once upon a time there was a big dog. '.repeat(20);
    const source = [
      '{"instruction": "Say hi.", "input": "", "output": "Hi."}',
      '{"instruction": "Say hi.", "output": 3}',
      'oops',
      '',
      `{"instruction": "${long}", "output": "The end."}`,
      '[1]',
      '{"instruction": "Say bye.", "output": "Bye."}',
    ].join('\r\n');
    const p = await prepareDataset({ name: 'mixed.jsonl', source }, tok, { maxLength: 64 });
    expect(p.report.counts).toMatchObject({ records: 6, good: 3, bad: 3, examples: 3, truncated: 1, dropped: 1, train: 2, val: 0 });
    expect(p.report.issues.map(formatIssue)).toEqual([
      'mixed.jsonl:2: field "output" must be a string',
      expect.stringMatching(/^mixed\.jsonl:3: not valid JSON: /),
      'mixed.jsonl:6: expected a JSON object, got an array',
    ]);
    expect(p.report.dropped.map((d) => d.line)).toEqual([5]);
    expect(p.report.dropped[0]!.reason).toMatch(/removed every response token/);
    expect(p.train.map((e) => e.line)).toEqual([1, 7]);
    const text = summarizeReport(p.report);
    expect(text).toContain('mixed.jsonl:2: field "output" must be a string');
    expect(text).toContain('examples dropped (1):');
  });

  it('uses the tokenizer chat template when there is one', async () => {
    const chatml = await loadStoriesChatmlTokenizer();
    const source = JSON.stringify({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }] });
    const p = await prepareDataset({ name: 'c.jsonl', source }, chatml, { maxLength: 64 });
    expect(p.template).toBe('chat-template');
    expect(chatml.decode(p.train[0]!.inputIds)).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n');
    const forced = await prepareDataset({ name: 'c.jsonl', source }, chatml, { maxLength: 64, template: 'alpaca' });
    expect(forced.template).toBe('alpaca');
    await expect(prepareDataset({ name: 'c.jsonl', source }, tok, { maxLength: 64, template: 'chat-template' })).rejects.toThrow(/no chat template/);
  });
});
