// Gemma 3 on WebGPU (Dawn over SwiftShader): a tiny random Gemma 3 with sliding and full layers
// gives the cpu backend's padded-batch logits within 1e-4 relative with the stock ops and with
// the fused kernels, and its KV-cache generation past the window equals generation without a
// cache. (The full-size Gemma 3 270M training run is gemma3-270m-train.test.ts.)
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend';
import { parseModelConfig } from '../../src/engine/model/config';
import { TINY_GEMMA3 } from '../helpers/random-model';
import { cachedAndFullGeneration, randomIds, randomModelLogits } from '../helpers/model-forward';
import { dawnSwiftShader, maxRelativeError } from '../helpers/backend-suite';

const config = parseModelConfig({ ...TINY_GEMMA3 });
const T = 8; // window 3
const ids = [randomIds(T, config.vocabSize, 1), [0, 0, 0, ...randomIds(T - 3, config.vocabSize, 2)], [...randomIds(T - 2, config.vocabSize, 3), 0, 0]];
const mask = [new Array(T).fill(1), [0, 0, 0, ...new Array(T - 3).fill(1)], [...new Array(T - 2).fill(1), 0, 0]];

const tinyLogits = () => randomModelLogits(config, 7, ids, mask);

describe('tiny Gemma 3 on WebGPU (Dawn, SwiftShader)', () => {
  let cpu: Float32Array;
  beforeAll(async () => {
    await dawnSwiftShader();
    await initBackend({ prefer: 'cpu' });
    cpu = await tinyLogits();
  });

  it.each(['stock', 'fused'] as const)('padded-batch logits with %s kernels agree with cpu within 1e-4 relative', async (kernels) => {
    const info = await initBackend({ prefer: 'webgpu', kernels });
    expect([info.name, info.kernels]).toEqual(['webgpu', kernels]);
    expect(maxRelativeError(cpu, await tinyLogits())).toBeLessThan(1e-4);
  });

  it('KV-cache generation past the window equals generation without a cache (fused, sampled, seeded)', async () => {
    await initBackend({ prefer: 'webgpu' });
    const { cached, full } = await cachedAndFullGeneration(config, 13, [2, 17], 8);
    expect(cached).toHaveLength(8);
    expect(cached).toEqual(full);
  });
});
