// End to end on Dawn/SwiftShader: one training step of stories260K gives the same LoRA gradients
// with the fused kernels as with stock TF.js ops, and issues fewer GPU dispatches. (The first 5
// training losses, fused and stock against cpu, are in train-webgpu.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import type { LoadedModel } from '../../src/engine/model/load';
import { createLoraAdapter, disposeAdapter, loraVariables, TARGET_PRESETS } from '../../src/engine/lora/lora';
import { makeBatches, padIdOf, type BatchExample } from '../../src/engine/data';
import { summedCrossEntropy } from '../../src/engine/train/loss';
import { mulberry32 } from '../../src/engine/rng';
import { setKernelMode, type KernelMode } from '../../kernels';
import { loadStories } from '../helpers/stories';
import { storyInstruct } from '../helpers/story-data';
import { maxRelativeError } from '../helpers/backend-suite';

/** Counts compute dispatches by wrapping GPUComputePassEncoder.prototype.dispatchWorkgroups. */
function dispatchCounter(): { count: () => number; restore: () => void } {
  const proto = (globalThis as unknown as { GPUComputePassEncoder: { prototype: GPUComputePassEncoder } }).GPUComputePassEncoder.prototype;
  const original = proto.dispatchWorkgroups;
  let n = 0;
  proto.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args: Parameters<GPUComputePassEncoder['dispatchWorkgroups']>) {
    n++;
    return original.apply(this, args);
  };
  return { count: () => n, restore: () => void (proto.dispatchWorkgroups = original) };
}

describe('stories260K with fused kernels on WebGPU (Dawn, SwiftShader)', () => {
  let m: LoadedModel;
  let train: BatchExample[];
  beforeAll(async () => {
    expect(await installNodeWebGPU({ swiftshader: true })).toBe(true);
    const info = await initBackend({ prefer: 'webgpu', kernels: 'stock' });
    expect(info.name).toBe('webgpu');
    expect(info.kernels).toBe('stock');
    m = await loadStories();
    train = (await storyInstruct(m.tokenizer)).train;
  });
  afterAll(() => {
    setKernelMode('stock');
    m?.model.dispose();
  });

  it('LoRA gradients with dropout and a non-zero B equal stock within 1e-4', { timeout: 600_000 }, async () => {
    const batch = makeBatches(train, { batchSize: 2, maxLength: 128, padId: padIdOf(m.tokenizer), seed: 0 })[1];
    const adapter = createLoraAdapter(m.config, { r: 4, alpha: 16, dropout: 0.2, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] }, mulberry32(1));
    const random = mulberry32(5);
    for (const l of adapter.layers.values()) l.b.assign(tf.tensor(Float32Array.from({ length: l.b.size }, () => (random() - 0.5) * 0.2), l.b.shape));
    const step = async (mode: KernelMode) => {
      setKernelMode(mode);
      try {
        const { value, grads } = tf.tidy(() =>
          tf.variableGrads(() => {
            const ids = tf.tensor2d(batch.inputIds, [batch.batchSize, batch.seqLen], 'int32');
            const attentionMask = tf.tensor2d(batch.attentionMask, [batch.batchSize, batch.seqLen], 'int32');
            const { hidden } = m.model.forward(ids, { attentionMask, adapter, training: true, dropoutSeed: 3 });
            return summedCrossEntropy(m.model, hidden, batch.targets);
          }, loraVariables(adapter)),
        );
        const out = [await value.data(), ...(await Promise.all(loraVariables(adapter).map((v) => grads[v.name].data())))];
        tf.dispose([value, ...Object.values(grads)]);
        return out;
      } finally {
        setKernelMode('stock');
      }
    };
    try {
      const stock = await step('stock');
      const fused = await step('fused');
      stock.forEach((g, i) => expect(maxRelativeError(g, fused[i]), `tensor ${i}`).toBeLessThan(1e-4));
    } finally {
      disposeAdapter(adapter);
    }
  });

  it('one forward + backward issues fewer dispatches fused than stock', { timeout: 600_000 }, async () => {
    const batch = makeBatches(train, { batchSize: 2, maxLength: 128, padId: padIdOf(m.tokenizer), seed: 0 })[0];
    const adapter = createLoraAdapter(m.config, { r: 8, alpha: 16, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] }, mulberry32(1));
    const step = async (mode: KernelMode) => {
      setKernelMode(mode);
      const counter = dispatchCounter();
      try {
        const { value, grads } = tf.tidy(() =>
          tf.variableGrads(() => {
            const ids = tf.tensor2d(batch.inputIds, [batch.batchSize, batch.seqLen], 'int32');
            const attentionMask = tf.tensor2d(batch.attentionMask, [batch.batchSize, batch.seqLen], 'int32');
            const { hidden } = m.model.forward(ids, { attentionMask, adapter, training: true });
            return summedCrossEntropy(m.model, hidden, batch.targets);
          }, loraVariables(adapter)),
        );
        const read = await Promise.all([value, ...Object.values(grads)].map((t) => t.data()));
        tf.dispose([value, ...Object.values(grads)]);
        return { dispatches: counter.count(), loss: read[0][0] };
      } finally {
        counter.restore();
        setKernelMode('stock');
      }
    };
    try {
      await step('stock'); // compiles every pipeline once; the counts below are steady-state
      await step('fused');
      const stock = await step('stock');
      const fused = await step('fused');
      console.log(`stories260K forward+backward (B=${batch.batchSize}, T=${batch.seqLen}, LoRA r=8 on all linears): dispatches stock ${stock.dispatches}, fused ${fused.dispatches}`);
      expect(Math.abs(fused.loss - stock.loss) / Math.abs(stock.loss)).toBeLessThan(1e-4);
      expect(fused.dispatches).toBeLessThan(stock.dispatches);
    } finally {
      disposeAdapter(adapter);
    }
  });
});
