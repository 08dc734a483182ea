import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import type { LoadedModel } from '../../src/engine/model/load';
import { loadStories } from '../helpers/stories';
import { storyInstruct } from '../helpers/story-data';
import { firstLosses } from '../helpers/train-suite';
import { maxRelativeError } from '../helpers/backend-suite';
import { isTuned } from '../../kernels';

describe('first 5 training losses of stories260K on WebGPU (Dawn, SwiftShader, fused kernels) equal cpu', () => {
  let m: LoadedModel;
  let train: Awaited<ReturnType<typeof storyInstruct>>['train'];
  beforeAll(async () => {
    expect(await installNodeWebGPU({ swiftshader: true })).toBe(true);
    m = await loadStories();
    train = (await storyInstruct(m.tokenizer)).train;
  });

  // SwiftShader runs a step in ~20–30 s on two cores.
  it('within 1e-4 relative', { timeout: 900_000 }, async () => {
    await initBackend({ prefer: 'cpu' });
    const cpu = await firstLosses(m, train, 5);
    const info = await initBackend({ prefer: 'webgpu' });
    expect(info.name).toBe('webgpu');
    expect(info.kernels).toBe('fused');
    expect(tf.getBackend()).toBe('webgpu');
    const memory: { numTensors: number; numBytes: number }[] = [];
    const gpu = await firstLosses(m, train, 5, {}, (e) => {
      if (e.type === 'step') memory[e.step] = { numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes };
    });
    expect(maxRelativeError(cpu, gpu)).toBeLessThan(1e-4);
    // The fused step (cross-entropy, optimizer kernels) leaks nothing from step to step.
    expect(memory[5]).toEqual(memory[2]);
    // Before its first step the run measured the matmul tiles of its q_proj (64 → 64) products.
    const buckets = Array.from({ length: 9 }, (_, i) => 2 ** i);
    expect(buckets.some((m) => isTuned({ m, n: 64, k: 64, transP: false, transQ: true }))).toBe(true);
  });
});
