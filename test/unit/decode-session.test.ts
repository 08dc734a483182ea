// The decode session's fallback (the model's forward with past keys and values, one token per row
// per step, the LoRA branch masked per row) on cpu: the same API and the same numerics as the
// fused step on WebGPU (test/webgpu/decode.test.ts) — logits equal recomputing the whole sequence,
// base and tuned rows mixed with left padding, tensors flat; stories260K greedy equals
// reference_greedy.json. Gemma 3 takes this path on every backend.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { createDecoder } from '../../src/engine/model/load';
import { parseModelConfig } from '../../src/engine/model/config';
import { disposeWeights } from '../../src/engine/model/weights';
import { disposeAdapter } from '../../src/engine/lora/lora';
import { createDecodeSession } from '../../src/engine/generate/decode-session';
import { argmax } from '../../src/engine/generate/sampling';
import { TINY_GEMMA3, TINY_LLAMA3, TINY_QWEN2, TINY_QWEN3, randomWeights, type HubConfig } from '../helpers/random-model';
import { randomIds } from '../helpers/model-forward';
import { changingAdapter, checkDecode } from '../helpers/decode-check';
import { loadStories, referenceGreedy } from '../helpers/stories';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe.each([
  ['llama', TINY_LLAMA3],
  ['qwen2', TINY_QWEN2],
  ['qwen3', TINY_QWEN3],
  ['gemma3 (sliding window 3 < the sequence)', TINY_GEMMA3],
] as [string, HubConfig][])('decode session on cpu, tiny %s', (_, raw) => {
  const config = parseModelConfig({ ...raw });
  const weights = randomWeights(config, 11, { std: 0.3, normJitter: 0.3 });
  const model = createDecoder(config, weights);
  afterAll(() => {
    model.dispose();
    disposeWeights(weights);
  });

  it('3 rows, base and tuned mixed, prompts of 5, 2 and 7 tokens: = full recompute, tensors flat', async () => {
    const adapter = changingAdapter(model, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], 4, 6);
    try {
      const prompts = [5, 2, 7].map((n, i) => randomIds(n, config.vocabSize, 10 + i));
      const out = await checkDecode(model, { prompts, adapterRows: [true, false, true], adapter, steps: 5, seed: 3 });
      expect(out.fused).toBe(false);
      expect(out.maxError).toBeLessThan(1e-4);
      expect(out.adapterChanged).toBe(true);
      expect(out.dispatches).toEqual([]);
      expect(new Set(out.tensors).size, `tensors per step ${out.tensors}`).toBe(1);
    } finally {
      disposeAdapter(adapter);
    }
  });
});

describe('decode session on cpu, stories260K', () => {
  it('greedy output equals reference_greedy.json', async () => {
    const m = await loadStories();
    const ref = await referenceGreedy();
    try {
      const s = createDecodeSession(m.model, { rows: 1, capacity: ref.greedy_ids.length, adapter: null });
      expect(s.fused).toBe(false);
      expect(s.fallbackReason).toMatch(/not active/);
      const seq = [...ref.prompt_ids];
      let logits = s.prefill([seq]);
      while (seq.length < ref.greedy_ids.length) {
        const id = argmax((await logits.data()) as Float32Array);
        logits.dispose();
        seq.push(id);
        if (seq.length < ref.greedy_ids.length) logits = s.step([id]);
      }
      // The last token is never fed back: one slot is left, then none.
      tf.dispose(s.step([0]));
      expect(() => s.step([0])).toThrow(/the cache's 64 slots are full/);
      s.dispose();
      expect(seq).toEqual(ref.greedy_ids);
    } finally {
      m.model.dispose();
    }
  });

  it('refuses bad input by name', async () => {
    const config = parseModelConfig({ ...TINY_LLAMA3 });
    const weights = randomWeights(config, 1);
    const model = createDecoder(config, weights);
    try {
      expect(() => createDecodeSession(model, { rows: 0, capacity: 8 })).toThrow(/rows must be a positive integer/);
      const s = createDecodeSession(model, { rows: 2, capacity: 4 });
      expect(() => s.step([1, 2])).toThrow(/prefill first/);
      expect(() => s.prefill([[1, 2]])).toThrow(/1 prompts for 2 rows/);
      expect(() => s.prefill([[1, 2, 3, 4], [1]])).toThrow(/leaves no room/);
      tf.dispose(s.prefill([[1, 2], [3]]));
      expect(() => s.step([1, 64])).toThrow(/token id 64 is outside the vocabulary of 64/);
      expect(() => s.step([1])).toThrow(/1 ids for 2 rows/);
      s.dispose();
    } finally {
      model.dispose();
      disposeWeights(weights);
    }
  });
});
