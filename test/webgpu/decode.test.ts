// The fused decode step (kernels/decode.ts through src/engine/generate/decode-session.ts) on Dawn
// over SwiftShader: logits equal recomputing the whole sequence within 1e-4 for the tiny llama,
// qwen2 and qwen3 configs — no adapter, an adapter on every row, and mixed base/tuned rows of
// different (left-padded) prompt lengths — several steps past the prompt; exactly 5 dispatches per
// layer + 2 per step and a flat tensor count; stories260K greedy equals reference_greedy.json (27
// dispatches a step); generateRows (sampling on the device) gives the same ids through the fused
// step as through the model's forward with past keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { createDecoder } from '../../src/engine/model/load';
import { parseModelConfig } from '../../src/engine/model/config';
import { disposeWeights } from '../../src/engine/model/weights';
import { disposeAdapter } from '../../src/engine/lora/lora';
import { createDecodeSession, decodeRowLogits } from '../../src/engine/generate/decode-session';
import { generateRows } from '../../src/engine/generate/generate-rows';
import { installDispatchCounter, since, snapshot } from '../../bench/lib/dispatch';
import { argmax } from '../../src/engine/generate/sampling';
import { TINY_LLAMA3, TINY_QWEN2, TINY_QWEN3, randomWeights, type HubConfig } from '../helpers/random-model';
import { randomIds } from '../helpers/model-forward';
import { changingAdapter, checkDecode, type DecodeCase } from '../helpers/decode-check';
import { dawnSwiftShader } from '../helpers/backend-suite';
import { loadStories, referenceGreedy } from '../helpers/stories';

beforeAll(async () => {
  await dawnSwiftShader();
  const info = await initBackend({ prefer: 'webgpu', kernels: 'fused' });
  expect(info.name).toBe('webgpu');
  expect(info.kernels).toBe('fused');
});

describe.each([
  ['llama (llama3 rope scaling)', TINY_LLAMA3],
  ['qwen2 (q/k/v bias)', TINY_QWEN2],
  ['qwen3 (q/k norm, head_dim 16)', TINY_QWEN3],
] as [string, HubConfig][])('fused decode step, tiny %s', (_, raw) => {
  const config = parseModelConfig({ ...raw });
  const weights = randomWeights(config, 11, { std: 0.3, normJitter: 0.3 });
  const model = createDecoder(config, weights);
  const perStep = 5 * config.numLayers + 2;
  afterAll(() => {
    model.dispose();
    disposeWeights(weights);
  });

  const run = async (c: Omit<DecodeCase, 'seed' | 'steps'>) => {
    const out = await checkDecode(model, { ...c, steps: 5, seed: 3 });
    expect(out.fused).toBe(true);
    expect(out.maxError).toBeLessThan(1e-4);
    expect(out.dispatches).toEqual(new Array(5).fill(perStep));
    expect(new Set(out.tensors).size, `tensors per step ${out.tensors}`).toBe(1);
    return out;
  };

  it('batch 1 without an adapter', async () => {
    await run({ prompts: [randomIds(6, config.vocabSize, 1)], adapterRows: [false], adapter: null });
  });

  it('batch 1 with an adapter (r 4 on every linear, non-zero B)', async () => {
    const adapter = changingAdapter(model, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], 4, 5);
    try {
      const out = await run({ prompts: [randomIds(6, config.vocabSize, 2)], adapterRows: [true], adapter });
      expect(out.adapterChanged).toBe(true);
    } finally {
      disposeAdapter(adapter);
    }
  });

  it('3 rows, base and tuned mixed, prompts of 5, 2 and 7 tokens (left-padded)', async () => {
    const adapter = changingAdapter(model, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], 4, 6);
    try {
      const prompts = [5, 2, 7].map((n, i) => randomIds(n, config.vocabSize, 10 + i));
      const out = await run({ prompts, adapterRows: [true, false, true], adapter });
      expect(out.adapterChanged).toBe(true);
    } finally {
      disposeAdapter(adapter);
    }
  });

  it('2 rows, the same prompt base and tuned, an adapter on q/v only (r 8)', async () => {
    const adapter = changingAdapter(model, ['q_proj', 'v_proj'], 8, 7);
    try {
      const prompt = randomIds(4, config.vocabSize, 20);
      const out = await run({ prompts: [prompt, prompt], adapterRows: [false, true], adapter });
      expect(out.adapterChanged).toBe(true);
    } finally {
      disposeAdapter(adapter);
    }
  });
});

/**
 * The shapes the tiny configs miss: head size 64 (SmolLM2's, Qwen2.5's) on a GQA ratio of 3,
 * hidden, intermediate and vocabulary that end in a partial block of columns (200, 100, 101),
 * 5 rows (more than 4: the 128-lane workgroups), and prompts of 9 to 131 tokens, so attention
 * walks several 64-key chunks from first real slots that are not chunk-aligned.
 */
const MEDIUM_QWEN2: HubConfig = Object.freeze({
  ...TINY_QWEN2,
  hidden_size: 200,
  head_dim: 64,
  num_attention_heads: 3,
  num_key_value_heads: 1,
  intermediate_size: 100,
  vocab_size: 101,
  max_position_embeddings: 256,
});

describe('fused decode step, 5 rows of long prompts, head size 64', () => {
  it('= full recompute within 1e-4, base and tuned rows alternating (LoRA r 16 on every linear)', async () => {
    const config = parseModelConfig({ ...MEDIUM_QWEN2 });
    const weights = randomWeights(config, 12, { std: 0.1, normJitter: 0.3 });
    const model = createDecoder(config, weights);
    const adapter = changingAdapter(model, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], 16, 8);
    try {
      const prompts = [70, 131, 20, 66, 9].map((n, i) => randomIds(n, config.vocabSize, 30 + i));
      const out = await checkDecode(model, { prompts, adapterRows: prompts.map((_, i) => i % 2 === 1), adapter, steps: 2, seed: 4, reference: 'batch' });
      expect(out.fused).toBe(true);
      expect(out.maxError).toBeLessThan(1e-4);
      expect(out.adapterChanged).toBe(true);
      expect(out.dispatches).toEqual([12, 12]);
    } finally {
      disposeAdapter(adapter);
      model.dispose();
      disposeWeights(weights);
    }
  });
});

describe('stories260K through the fused decode step', () => {
  it('greedy output equals reference_greedy.json, in 1 row and in each of 2 rows', async () => {
    const m = await loadStories();
    const ref = await referenceGreedy();
    try {
      const n = ref.greedy_ids.length - ref.prompt_ids.length;
      const counter = installDispatchCounter()!;
      for (const rows of [1, 2]) {
        const s = createDecodeSession(m.model, { rows, capacity: ref.greedy_ids.length, adapter: null });
        expect(s.fused).toBe(true);
        const seqs = Array.from({ length: rows }, () => [...ref.prompt_ids]);
        let logits = s.prefill(seqs);
        for (let i = 0; i < n; i++) {
          const data = (await logits.data()) as Float32Array;
          logits.dispose();
          const ids = seqs.map((seq, r) => {
            const id = argmax(data.subarray(r * m.config.vocabSize, (r + 1) * m.config.vocabSize));
            seq.push(id);
            return id;
          });
          if (i < n - 1) {
            const before = snapshot(counter);
            logits = s.step(ids);
            // 5 layers: 5 per layer + the embedding and the head.
            expect(since(counter, before).dispatches).toBe(27);
          }
        }
        s.dispose();
        for (const seq of seqs) expect(seq).toEqual(ref.greedy_ids);
      }
      expect(tf.getBackend()).toBe('webgpu');
    } finally {
      m.model.dispose();
    }
  });
});

describe('generateRows through decodeRowLogits (fused step) equals it through the forward with past keys', () => {
  it('stories260K, base and tuned rows of one prompt and a shorter one, seeded sampling', async () => {
    const m = await loadStories();
    const adapter = changingAdapter(m.model, ['q_proj', 'v_proj', 'down_proj'], 4, 9);
    try {
      const prompt = m.tokenizer.encode('Once upon a time, there was a little');
      const requests = [
        { prompt, adapter: false, seed: 1 },
        { prompt, adapter: true, seed: 1 },
        { prompt: m.tokenizer.encode('The dog'), adapter: true, seed: 2 },
      ];
      const opts = { maxNewTokens: 12, temperature: 0.8, topK: 40, eosTokenIds: [], adapter };
      const viaForward = await generateRows(m.model, m.tokenizer, requests, { ...opts, logits: decodeRowLogits(opts.maxNewTokens, { fused: false }) });
      const viaDecode = await generateRows(m.model, m.tokenizer, requests, { ...opts, logits: decodeRowLogits(opts.maxNewTokens) });
      expect(viaDecode.rows.map((r) => r.ids)).toEqual(viaForward.rows.map((r) => r.ids));
      expect(viaDecode.rows[0]!.ids).not.toEqual(viaDecode.rows[1]!.ids);
    } finally {
      disposeAdapter(adapter);
      m.model.dispose();
    }
  });
});
