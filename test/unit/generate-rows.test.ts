// Batched generation with an adapter per row (src/engine/generate/generate-rows.ts) on cpu: each
// row's output equals `generate` run alone for that prompt, adapter and seed — greedy, sampled,
// with stop strings and EOS ending rows at different steps — and the decoder's `adapterRows`
// gives every row the logits of its own forward, for each model family.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { generate, type GenerateOptions } from '../../src/engine/generate/generate';
import { generateRows, type RowRequest } from '../../src/engine/generate/generate-rows';
import { disposeAdapter, type LoraAdapter } from '../../src/engine/lora/lora';
import { parseModelConfig } from '../../src/engine/model/config';
import { createDecoder } from '../../src/engine/model/load';
import type { LoadedModel } from '../../src/engine/model/load';
import { loadStories, referenceGreedy } from '../helpers/stories';
import { randomAdapter } from '../helpers/random-adapter';
import { randomWeights, TINY_GEMMA3, TINY_LLAMA3, TINY_QWEN2, TINY_QWEN3 } from '../helpers/random-model';

describe('generateRows on stories260K (cpu)', () => {
  let m: LoadedModel;
  let adapter: LoraAdapter;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    m = await loadStories();
    adapter = randomAdapter(m.model, 11);
  });
  afterAll(() => {
    if (adapter) disposeAdapter(adapter);
    m?.model.dispose();
  });

  const alone = (r: RowRequest, opts: Omit<GenerateOptions, 'adapter'>) =>
    generate(m.model, m.tokenizer, r.prompt, { ...opts, adapter: r.adapter ? adapter : null, ...(r.seed !== undefined ? { seed: r.seed } : {}) });

  /** Prompts of different lengths (so rows are left-padded), each with and without the adapter. */
  const requests: RowRequest[] = [
    { prompt: 'Once upon a time', adapter: false },
    { prompt: 'Once upon a time', adapter: true },
    { prompt: 'The little dog ran to the park and', adapter: false },
    { prompt: 'The little dog ran to the park and', adapter: true, seed: 9 },
    { prompt: 'Tom', adapter: true },
  ];

  it('the adapter changes the output (so the per-row comparisons below can fail)', async () => {
    const base = await alone(requests[0]!, { maxNewTokens: 20 });
    const tuned = await alone(requests[1]!, { maxNewTokens: 20 });
    expect(tuned.ids).not.toEqual(base.ids);
  });

  for (const [name, sampling] of [
    ['greedy', {}],
    ['sampled (temperature, top-k, top-p, repetition penalty)', { temperature: 0.9, topK: 40, topP: 0.9, repetitionPenalty: 1.3, seed: 4 }],
  ] as const) {
    it(`${name}: every row equals generate() alone with its prompt, adapter and seed`, async () => {
      const opts = { maxNewTokens: 24, ...sampling };
      const deltas = requests.map(() => [] as string[]);
      const got = await generateRows(m.model, m.tokenizer, requests, { ...opts, adapter, onText: (row, d) => void deltas[row]!.push(d) });
      expect(got.rows).toHaveLength(requests.length);
      expect(got.steps).toBe(opts.maxNewTokens);
      for (const [i, r] of requests.entries()) {
        const want = await alone(r, opts);
        expect(got.rows[i]!.ids, `row ${i}`).toEqual(want.ids);
        expect(got.rows[i]!.text).toBe(want.text);
        expect(deltas[i]!.join('')).toBe(want.text);
      }
    });
  }

  it('greedy rows reproduce reference_greedy.json with the adapter off, beside rows with it on', async () => {
    const ref = await referenceGreedy();
    const maxNewTokens = ref.greedy_ids.length - ref.prompt_ids.length;
    const got = await generateRows(
      m.model,
      m.tokenizer,
      [
        { prompt: [1, 2, 3], adapter: true },
        { prompt: ref.prompt_ids, adapter: false },
        { prompt: ref.prompt_ids, adapter: true },
      ],
      { maxNewTokens, adapter, eosTokenIds: [] },
    );
    expect([...ref.prompt_ids, ...got.rows[1]!.ids]).toEqual(ref.greedy_ids);
    expect(got.rows[2]!.ids).not.toEqual(got.rows[1]!.ids);
  });

  it('each row ends on its own stop string, EOS or length while the others go on', async () => {
    const opts = { maxNewTokens: 40, stopStrings: ['Lily'], eosTokenIds: [13], temperature: 1, seed: 2 };
    const rows: RowRequest[] = [
      { prompt: 'Once upon a time', adapter: false, seed: 0 },
      { prompt: 'Once upon a time', adapter: true, seed: 1 },
      { prompt: 'One day, a girl named', adapter: false, seed: 3 },
      { prompt: 'The cat', adapter: true, seed: 5 },
    ];
    const got = await generateRows(m.model, m.tokenizer, rows, { ...opts, adapter });
    for (const [i, r] of rows.entries()) {
      const want = await alone(r, opts);
      expect(got.rows[i]!.ids, `row ${i}`).toEqual(want.ids);
      expect(got.rows[i]!.text).toBe(want.text);
      expect(got.rows[i]!.finishReason).toBe(want.finishReason);
    }
    const lengths = new Set(got.rows.map((r) => r.ids.length));
    expect(lengths.size, 'rows ended at different steps').toBeGreaterThan(1);
  });

  it('onText returning false ends that row only; an abort ends them all', async () => {
    const got = await generateRows(m.model, m.tokenizer, requests.slice(0, 2), { maxNewTokens: 16, adapter, onText: (row) => row !== 0 });
    expect(got.rows[0]!.finishReason).toBe('aborted');
    expect(got.rows[0]!.ids.length).toBeLessThan(4);
    expect(got.rows[1]!.finishReason).toBe('length');
    expect(got.rows[1]!.ids).toHaveLength(16);

    const ctl = new AbortController();
    const aborted = await generateRows(m.model, m.tokenizer, requests, { maxNewTokens: 50, adapter, signal: ctl.signal, onText: () => ctl.abort() });
    expect(aborted.rows.every((r) => r.finishReason === 'aborted')).toBe(true);
    expect(Math.max(...aborted.rows.map((r) => r.ids.length))).toBeLessThan(5);
  });

  it('leaves no tensor behind', async () => {
    await generateRows(m.model, m.tokenizer, requests, { maxNewTokens: 3, adapter });
    const before = tf.memory();
    for (let i = 0; i < 2; i++) await generateRows(m.model, m.tokenizer, requests, { maxNewTokens: 6, adapter, temperature: 1, repetitionPenalty: 1.2 });
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
  });
});

describe('adapterRows: a mixed batch gives each row the logits of its own forward', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const [name, raw] of [
    ['llama', TINY_LLAMA3],
    ['qwen2', TINY_QWEN2],
    ['qwen3', TINY_QWEN3],
    ['gemma3', TINY_GEMMA3],
  ] as const) {
    it(name, () => {
      const config = parseModelConfig({ ...raw });
      const model = createDecoder(config, randomWeights(config, 7, { std: 0.3, biasStd: 0.3 }));
      const adapter = randomAdapter(model, 3);
      const B = 3;
      const T = 5;
      const ids = Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % config.vocabSize);
      const mask = [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1];
      const logits = (a: LoraAdapter | null, adapterRows?: boolean[]) =>
        tf.tidy(() => {
          const { hidden } = model.forward(tf.tensor2d(ids, [B, T], 'int32'), { attentionMask: tf.tensor2d(mask, [B, T], 'int32'), adapter: a, ...(adapterRows ? { adapterRows } : {}) });
          return model.logits(hidden).arraySync() as number[][][];
        });
      const base = logits(null);
      const tuned = logits(adapter);
      const mixed = logits(adapter, [true, false, true]);
      expect(mixed[0]).toEqual(tuned[0]);
      expect(mixed[1]).toEqual(base[1]);
      expect(mixed[2]).toEqual(tuned[2]);
      expect(tuned[1]).not.toEqual(base[1]);
      expect(logits(adapter, [false, false, false])).toEqual(base);
      disposeAdapter(adapter);
      for (const w of model.weights.values()) w.dispose();
      model.dispose();
    });
  }
});
