// The stories260K numerics that every backend must reproduce (test/helpers/backend-suite.ts),
// with the fused kernels on: golden greedy output, padded-batch logits equal to cpu, and
// KV-cache generation equal to generation without a cache.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import { generate } from '../../src/engine/generate/generate';
import type { LoadedModel } from '../../src/engine/model/load';
import { setKernelMode } from '../../kernels';
import { loadStories, referenceGreedy, type ReferenceGreedy } from '../helpers/stories';
import { batchLogits, maxRelativeError } from '../helpers/backend-suite';

// SwiftShader on two busy cores: a generation takes one to two minutes.
const SLOW = { timeout: 600_000 };

describe('stories260K on WebGPU with fused kernels', () => {
  let m: LoadedModel;
  let ref: ReferenceGreedy;
  let cpuLogits: Float32Array;
  beforeAll(async () => {
    expect(await installNodeWebGPU({ swiftshader: true })).toBe(true);
    m = await loadStories();
    ref = await referenceGreedy();
    await tf.setBackend('cpu');
    cpuLogits = await batchLogits(m);
    expect((await initBackend({ prefer: 'webgpu' })).name).toBe('webgpu');
    setKernelMode('fused');
  });
  afterAll(() => {
    setKernelMode('stock');
    m?.model.dispose();
  });

  it('greedy continuation equals reference_greedy.json token for token', SLOW, async () => {
    const maxNewTokens = ref.greedy_ids.length - ref.prompt_ids.length;
    const out = await generate(m.model, m.tokenizer, ref.prompt_ids, { maxNewTokens });
    expect([...ref.prompt_ids, ...out.ids]).toEqual(ref.greedy_ids);
  });

  it('padded-batch logits agree with cpu within 1e-4 relative', SLOW, async () => {
    const got = await batchLogits(m);
    expect(maxRelativeError(cpuLogits, got)).toBeLessThan(1e-4);
  });

  it('KV-cache generation equals generation without a cache (sampled, seeded)', SLOW, async () => {
    const opts = { maxNewTokens: 24, temperature: 0.9, topP: 0.9, topK: 50, seed: 7 };
    const cached = await generate(m.model, m.tokenizer, 'The little bird', { ...opts, useCache: true });
    const full = await generate(m.model, m.tokenizer, 'The little bird', { ...opts, useCache: false });
    expect(cached.ids).toEqual(full.ids);
    expect(cached.ids.length).toBeGreaterThan(0);
  });
});
