// The first 5 training losses of stories260K on WebGPU (Dawn over SwiftShader) equal the cpu
// backend's within 1e-4 relative, with the stock TF.js ops and with the fused kernels (and so
// fused equals stock): the training numerics of both paths, against the reference backend.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import type { LoadedModel } from '../../src/engine/model/load';
import { loadStories } from '../helpers/stories';
import { storyInstruct } from '../helpers/story-data';
import { firstLosses } from '../helpers/train-suite';
import { dawnSwiftShader, maxRelativeError } from '../helpers/backend-suite';
import { isTuned } from '../../kernels';

describe('first 5 training losses of stories260K on WebGPU (Dawn, SwiftShader) equal cpu', () => {
  let m: LoadedModel;
  let train: Awaited<ReturnType<typeof storyInstruct>>['train'];
  let cpu: number[];
  let stock: number[] | undefined;
  beforeAll(async () => {
    await dawnSwiftShader();
    m = await loadStories();
    train = (await storyInstruct(m.tokenizer)).train;
    await initBackend({ prefer: 'cpu' });
    cpu = await firstLosses(m, train, 5);
  });

  // SwiftShader runs a step in ~20–30 s on two cores (more when they are busy).
  it('with stock TF.js ops, within 1e-4 relative', { timeout: 900_000 }, async () => {
    const info = await initBackend({ prefer: 'webgpu', kernels: 'stock' });
    expect([info.name, info.kernels]).toEqual(['webgpu', 'stock']);
    stock = await firstLosses(m, train, 5);
    console.log(`first losses: cpu ${cpu.join(', ')}; webgpu stock ${stock.join(', ')}`);
    expect(maxRelativeError(cpu, stock)).toBeLessThan(1e-4);
  });

  it('with the fused kernels, within 1e-4 relative of cpu and of stock, with flat memory', { timeout: 900_000 }, async () => {
    const info = await initBackend({ prefer: 'webgpu' });
    expect([info.name, info.kernels]).toEqual(['webgpu', 'fused']);
    const memory: { numTensors: number; numBytes: number }[] = [];
    const fused = await firstLosses(m, train, 5, {}, (e) => {
      if (e.type === 'step') memory[e.step] = { numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes };
    });
    console.log(`first losses: webgpu fused ${fused.join(', ')}`);
    expect(maxRelativeError(cpu, fused)).toBeLessThan(1e-4);
    if (stock) expect(maxRelativeError(stock, fused)).toBeLessThan(1e-4);
    // The fused step (cross-entropy, optimizer kernels) leaks nothing from step to step.
    expect(memory[5]).toEqual(memory[2]);
    // Before its first step the run measured the matmul tiles of its q_proj (64 → 64) products.
    const buckets = Array.from({ length: 9 }, (_, i) => 2 ** i);
    expect(buckets.some((m) => isTuned({ m, n: 64, k: 64, transP: false, transQ: true }))).toBe(true);
  });
});
