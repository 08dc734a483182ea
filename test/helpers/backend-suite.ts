// The numerics every backend must reproduce: stories260K golden greedy output, logits that
// agree with the cpu backend, and KV-cache generation equal to generation without a cache.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend, type BackendName } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import type { KernelMode } from '../../kernels/mode';
import { generate } from '../../src/engine/generate/generate';
import type { LoadedModel } from '../../src/engine/model/load';
import { loadStories, referenceGreedy, type ReferenceGreedy } from './stories';
import { maxRelativeError } from './numerics';

export { maxRelativeError };

/** Logits of a padded batch of two prompts, read back to the host (async: WebGPU has no sync read in Node). */
export async function batchLogits(m: LoadedModel): Promise<Float32Array> {
  const a = m.tokenizer.encode('Once upon a time, there was a cat');
  const b = m.tokenizer.encode('The dog ran');
  const t = Math.max(a.length, b.length);
  const pad = (ids: number[]) => [...ids, ...new Array(t - ids.length).fill(0)];
  const mask = (ids: number[]) => [...ids.map(() => 1), ...new Array(t - ids.length).fill(0)];
  const logits = tf.tidy(() => {
    const ids = tf.tensor2d([pad(a), pad(b)], [2, t], 'int32');
    const attentionMask = tf.tensor2d([mask(a), mask(b)], [2, t], 'int32');
    return m.model.logits(m.model.forward(ids, { attentionMask }).hidden);
  });
  const data = (await logits.data()) as Float32Array;
  logits.dispose();
  return data;
}

/** A setup for Node: Dawn's navigator.gpu over SwiftShader (a real WebGPU implementation on the CPU). */
export async function dawnSwiftShader(): Promise<void> {
  if (!(await installNodeWebGPU({ swiftshader: true }))) throw new Error('Dawn (npm "webgpu") failed to load');
}

export interface BackendSuiteOptions {
  /** Runs before anything else, e.g. installing Dawn's navigator.gpu in Node. */
  setup?: () => Promise<void>;
  /** WebGPU only: the fused WGSL kernels or the stock TF.js ops (initBackend's default: fused). */
  kernels?: KernelMode;
  /** Whether to compare KV-cache generation with generation without a cache (default true). */
  kvCache?: boolean;
}

export function backendSuite(name: BackendName, opts: BackendSuiteOptions = {}): void {
  const { setup, kernels, kvCache = true } = opts;
  // Timeouts are the lane's (vitest.config.ts): on SwiftShader a generation takes a minute or two.
  describe(`stories260K on ${name}${kernels ? ` with ${kernels} kernels` : ''}`, () => {
    let m: LoadedModel;
    let ref: ReferenceGreedy;
    let cpuLogits: Float32Array;
    beforeAll(async () => {
      await setup?.();
      m = await loadStories();
      ref = await referenceGreedy();
      await tf.setBackend('cpu');
      cpuLogits = await batchLogits(m);
      const info = await initBackend({ prefer: name, kernels });
      expect(info.name).toBe(name);
      if (kernels) expect(info.kernels).toBe(kernels);
    });
    afterAll(() => m?.model.dispose());

    it('greedy continuation equals reference_greedy.json token for token', async () => {
      const maxNewTokens = ref.greedy_ids.length - ref.prompt_ids.length;
      const out = await generate(m.model, m.tokenizer, ref.prompt_ids, { maxNewTokens });
      expect(tf.getBackend()).toBe(name);
      expect([...ref.prompt_ids, ...out.ids]).toEqual(ref.greedy_ids);
    });

    it('padded-batch logits agree with cpu within 1e-4 relative', async () => {
      const got = await batchLogits(m);
      expect(got.length).toBe(cpuLogits.length);
      expect(maxRelativeError(cpuLogits, got)).toBeLessThan(1e-4);
    });

    it.runIf(kvCache)('KV-cache generation equals generation without a cache (sampled, seeded)', async () => {
      const opts = { maxNewTokens: 24, temperature: 0.9, topP: 0.9, topK: 50, seed: 7 };
      const cached = await generate(m.model, m.tokenizer, 'The little bird', { ...opts, useCache: true });
      const full = await generate(m.model, m.tokenizer, 'The little bird', { ...opts, useCache: false });
      expect(cached.ids).toEqual(full.ids);
      expect(cached.ids.length).toBeGreaterThan(0);
    });
  });
}
