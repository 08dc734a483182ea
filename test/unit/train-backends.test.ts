import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import type { LoadedModel } from '../../src/engine/model/load';
import { loadStories } from '../helpers/stories';
import { storyInstruct } from '../helpers/story-data';
import { firstLosses } from '../helpers/train-suite';
import { maxRelativeError } from '../helpers/backend-suite';

describe('first 5 training losses of stories260K agree across cpu and wasm', () => {
  let m: LoadedModel;
  let train: Awaited<ReturnType<typeof storyInstruct>>['train'];
  beforeAll(async () => {
    m = await loadStories();
    train = (await storyInstruct(m.tokenizer)).train;
  });

  it('within 1e-4 relative, and they are real losses', async () => {
    await initBackend({ prefer: 'cpu' });
    const cpu = await firstLosses(m, train, 5);
    await initBackend({ prefer: 'wasm' });
    expect(tf.getBackend()).toBe('wasm');
    const wasm = await firstLosses(m, train, 5);
    expect(cpu).toHaveLength(5);
    expect(cpu.every((l) => l > 0.1 && l < 10)).toBe(true);
    expect(maxRelativeError(cpu, wasm)).toBeLessThan(1e-4);
    // They move: the adapter is being trained, not just evaluated.
    expect(new Set(cpu.map((l) => l.toFixed(4))).size).toBe(5);
  });
});
