import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import type { LoadedModel } from '../../src/engine/model/load';
import { loadStories } from '../helpers/stories';
import { storyInstruct } from '../helpers/story-data';
import { firstLosses } from '../helpers/train-suite';
import { maxRelativeError } from '../helpers/backend-suite';

describe('first 5 training losses of stories260K on WebGPU (Dawn, SwiftShader) equal cpu', () => {
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
    expect(tf.getBackend()).toBe('webgpu');
    const gpu = await firstLosses(m, train, 5);
    expect(maxRelativeError(cpu, gpu)).toBeLessThan(1e-4);
  });
});
