// Sampling on the device (kernels/sample.ts) on Dawn over SwiftShader: the ids it draws equal the
// host sampler's (src/engine/generate/sampling.ts) given the same uniforms, over random logits
// with ties, penalties, top-k and top-p, in one dispatch; and batched generation with an adapter
// per row (generate-rows.ts), sampling on the device, draws what the host sampler draws, equals
// `generate` alone row by row, and reproduces reference_greedy.json.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import { sampleOnDevice } from '../../kernels';
import { sampleToken, type SamplingOptions } from '../../src/engine/generate/sampling';
import { sampleRows } from '../../src/engine/generate/sample-rows';
import { generate } from '../../src/engine/generate/generate';
import { generateRows, type RowRequest } from '../../src/engine/generate/generate-rows';
import { disposeAdapter, type LoraAdapter } from '../../src/engine/lora/lora';
import type { LoadedModel } from '../../src/engine/model/load';
import { mulberry32 } from '../../src/engine/rng';
import { loadStories, referenceGreedy } from '../helpers/stories';
import { randomAdapter } from '../helpers/random-adapter';
import { installDispatchCounter, since, snapshot } from '../../bench/lib/dispatch';

/** GPU dispatches `f` issues (bench/lib/dispatch.ts counts them at the device's pass encoder). */
function countDispatches<T>(f: () => T): { value: T; dispatches: number } {
  const counter = installDispatchCounter()!;
  const before = snapshot(counter);
  const value = f();
  return { value, dispatches: since(counter, before).dispatches };
}

interface Case {
  rows: number;
  vocab: number;
  /** Logits rounded to this step, so that many tokens tie (0: no rounding). */
  step: number;
  opts: SamplingOptions;
}

function cases(): Case[] {
  const out: Case[] = [];
  const options: SamplingOptions[] = [
    {},
    { repetitionPenalty: 1.3 },
    { temperature: 1 },
    { temperature: 0.7, topK: 1 },
    { temperature: 0.7, topK: 3 },
    { temperature: 1.5, topK: 50 },
    { temperature: 1, topP: 0.9 },
    { temperature: 0.8, topP: 0.5, repetitionPenalty: 2 },
    { temperature: 1.2, topK: 20, topP: 0.7, repetitionPenalty: 1.3 },
    { temperature: 0.5, topP: 0.05 },
    { temperature: 2, topK: 10000, topP: 0.999 },
  ];
  for (const vocab of [5, 37, 517, 3001]) for (const step of [0, 0.5]) for (const opts of options) out.push({ rows: 3, vocab, step, opts });
  return out;
}

describe('sampling on the device equals the host sampler (Dawn, SwiftShader)', () => {
  beforeAll(async () => {
    expect(await installNodeWebGPU({ swiftshader: true })).toBe(true);
    expect((await initBackend({ prefer: 'webgpu', kernels: 'fused' })).name).toBe('webgpu');
  });

  it('over random logits, ties, penalties, top-k and top-p: the same ids, one dispatch each', async () => {
    const random = mulberry32(2026);
    let compared = 0;
    let sampledTies = 0;
    for (const [n, c] of cases().entries()) {
      for (let trial = 0; trial < 4; trial++) {
        const logits = Float32Array.from({ length: c.rows * c.vocab }, () => {
          const v = (random() * 2 - 1) * 4 + (random() < 0.01 ? 6 : 0);
          return c.step ? Math.round(v / c.step) * c.step : v;
        });
        const histories = Array.from({ length: c.rows }, () => Array.from({ length: Math.floor(random() * 12) }, () => Math.floor(random() * c.vocab)));
        const uniforms = Array.from({ length: c.rows }, () => random());
        const want = histories.map((h, r) => sampleToken(logits.subarray(r * c.vocab, (r + 1) * c.vocab), h, c.opts, () => uniforms[r]!));
        const t = tf.tensor2d(logits, [c.rows, c.vocab]);
        const { value: ids, dispatches } = countDispatches(() => sampleOnDevice(t, histories, uniforms, c.opts));
        expect(dispatches).toBe(1);
        const got = Array.from(await ids.data());
        tf.dispose([t, ids]);
        expect(got, `case ${n} ${JSON.stringify(c)}, trial ${trial}`).toEqual(want);
        compared += c.rows;
        if (c.step && (c.opts.temperature ?? 0) > 0) sampledTies += c.rows;
      }
    }
    expect(compared).toBe(cases().length * 4 * 3);
    expect(sampledTies).toBeGreaterThan(100);
  });

  it('a draw at the edge of the CDF, tied top-k and top-p cuts, and the draw u = 0', async () => {
    // Ties everywhere: 4 tokens at 1, 2 at 0.5; the host's order is 1, 3, 4, 6 (value 1), then 0, 5.
    const row = [0.5, 1, -1, 1, 1, 0.5, 1, -2];
    const draws: Array<[SamplingOptions, number]> = [
      [{ temperature: 1, topK: 2 }, 0.99],
      [{ temperature: 1, topK: 5 }, 0.999],
      [{ temperature: 1, topP: 0.6 }, 0.75],
      [{ temperature: 1 }, 0],
      [{ temperature: 1, repetitionPenalty: 2 }, 0.5],
      [{}, 0],
    ];
    for (const [opts, u] of draws) {
      const want = sampleToken(Float32Array.from(row), [3, 3, 7], opts, () => u);
      const t = tf.tensor2d(row, [1, row.length]);
      const ids = sampleOnDevice(t, [[3, 3, 7]], [u], opts);
      expect(Array.from(await ids.data()), JSON.stringify(opts)).toEqual([want]);
      tf.dispose([t, ids]);
    }
  });

  it('leaves no tensor behind', async () => {
    const t = tf.tensor2d(Float32Array.from({ length: 2 * 300 }, (_, i) => Math.sin(i)), [2, 300]);
    const rows = [0, 1].map((i) => ({ history: [i, 5], random: mulberry32(i), active: true }));
    await sampleRows(t, rows, { temperature: 1, topP: 0.9, repetitionPenalty: 1.1 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await sampleRows(t, rows, { temperature: 1, topP: 0.9, repetitionPenalty: 1.1 });
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
  });
});

describe('generateRows on WebGPU (fused kernels, sampling on the device)', () => {
  let m: LoadedModel;
  let adapter: LoraAdapter;
  beforeAll(async () => {
    expect(await installNodeWebGPU({ swiftshader: true })).toBe(true);
    expect((await initBackend({ prefer: 'webgpu', kernels: 'fused' })).name).toBe('webgpu');
    m = await loadStories();
    adapter = randomAdapter(m.model, 11);
  });
  afterAll(() => {
    if (adapter) disposeAdapter(adapter);
    m?.model.dispose();
  });

  // SwiftShader here runs a stories260K step in about 2 s: the rows are compared with generate()
  // alone over their first tokens (greedy and seeded sampling are prefix-consistent).
  it('greedy: the base row reproduces reference_greedy.json, the tuned row equals generate() alone', async () => {
    const ref = await referenceGreedy();
    const maxNewTokens = ref.greedy_ids.length - ref.prompt_ids.length;
    const got = await generateRows(
      m.model,
      m.tokenizer,
      [
        { prompt: ref.prompt_ids, adapter: false },
        { prompt: ref.prompt_ids, adapter: true },
      ],
      { maxNewTokens, adapter, eosTokenIds: [] },
    );
    expect([...ref.prompt_ids, ...got.rows[0]!.ids]).toEqual(ref.greedy_ids);
    const tuned = await generate(m.model, m.tokenizer, ref.prompt_ids, { maxNewTokens: 10, eosTokenIds: [], adapter });
    expect(got.rows[1]!.ids.slice(0, 10)).toEqual(tuned.ids);
    expect(got.rows[1]!.ids).not.toEqual(got.rows[0]!.ids);
  });

  it('seeded sampling: each row equals generate() alone, and the host sampler draws the same; memory stays flat', async () => {
    const opts = { maxNewTokens: 10, temperature: 0.9, topK: 40, topP: 0.9, repetitionPenalty: 1.2, seed: 3 };
    const rows: RowRequest[] = [
      { prompt: 'Once upon a time', adapter: false },
      { prompt: 'Once upon a time', adapter: true },
      { prompt: 'Tom', adapter: true, seed: 8 },
    ];
    const got = await generateRows(m.model, m.tokenizer, rows, { ...opts, adapter, sampler: 'device' });
    const host = await generateRows(m.model, m.tokenizer, rows, { ...opts, adapter, sampler: 'host' });
    for (const [i, r] of rows.entries()) {
      expect(got.rows[i]!.ids, `row ${i} on the host`).toEqual(host.rows[i]!.ids);
      const want = await generate(m.model, m.tokenizer, r.prompt, { ...opts, seed: r.seed ?? opts.seed, adapter: r.adapter ? adapter : null });
      expect(got.rows[i]!.ids, `row ${i}`).toEqual(want.ids);
    }
    const before = tf.memory();
    await generateRows(m.model, m.tokenizer, rows, { ...opts, maxNewTokens: 2, adapter });
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
  });
});
