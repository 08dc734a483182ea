// LoRA training of stories260K on story-instruct, on the wasm backend (the cpu backend is ~15×
// slower for training; cross-backend agreement is covered in train-backends): how a step's loss
// is made, resuming, pausing. Training to a tuned model is in test/slow/train-story-instruct.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import type { LoadedModel } from '../../src/engine/model/load';
import { createLoraAdapter, disposeAdapter, TARGET_PRESETS, type LoraAdapter } from '../../src/engine/lora/lora';
import { Trainer, type TrainCheckpoint } from '../../src/engine/train/trainer';
import { makeBatches, type PreparedDataset } from '../../src/engine/data';
import { summedCrossEntropy } from '../../src/engine/train/loss';
import { mulberry32 } from '../../src/engine/rng';
import { loadStories } from '../helpers/stories';
import { storyInstruct } from '../helpers/story-data';
import { smallRunOptions } from '../helpers/train-suite';

const ALL_LINEAR = { r: 8, alpha: 16, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] };

describe('LoRA training of stories260K on story-instruct (wasm)', () => {
  let m: LoadedModel;
  let data: PreparedDataset;
  const adapters: LoraAdapter[] = [];
  const newAdapter = (dropout = 0) => {
    const a = createLoraAdapter(m.config, { ...ALL_LINEAR, dropout }, mulberry32(1));
    adapters.push(a);
    return a;
  };

  beforeAll(async () => {
    await initBackend({ prefer: 'wasm' });
    m = await loadStories();
    data = await storyInstruct(m.tokenizer);
  });
  afterAll(() => adapters.forEach(disposeAdapter));

  it('the step loss is Σ token losses / Σ trained tokens over the accumulated micro-batches', async () => {
    const o = smallRunOptions(m, { batchSize: 3, gradAccum: 2, maxSteps: 1, learningRate: 0, seed: 4 });
    const adapter = newAdapter();
    // Make B nonzero so the adapter matters, then compute the expected loss independently.
    for (const l of adapter.layers.values()) l.b.assign(tf.randomNormal(l.b.shape, 0, 0.05, 'float32', 3));
    const micro = makeBatches(data.train, { batchSize: 3, maxLength: 128, padId: o.padId, seed: o.seed * 1000, shuffle: true }).slice(0, 2);
    let sum = 0;
    let count = 0;
    for (const b of micro) {
      const s = tf.tidy(() => {
        const { hidden } = m.model.forward(tf.tensor2d(b.inputIds, [b.batchSize, b.seqLen], 'int32'), {
          attentionMask: tf.tensor2d(b.attentionMask, [b.batchSize, b.seqLen], 'int32'),
          adapter,
        });
        return summedCrossEntropy(m.model, hidden, b.targets);
      });
      sum += s.dataSync()[0];
      s.dispose();
      count += b.trainedTokens;
    }
    const trainer = new Trainer(m.model, adapter, data.train, [], o);
    const { losses } = await trainer.run();
    trainer.dispose();
    expect(losses[0]).toBeCloseTo(sum / count, 5);
  });

  it('resuming from a checkpoint continues with exactly the losses of the uninterrupted run', async () => {
    // Dropout and gradient accumulation on: their randomness must be reproduced as well.
    const o = smallRunOptions(m, { batchSize: 2, gradAccum: 2, maxSteps: 6, warmupSteps: 2, weightDecay: 0.01, seed: 9, checkpointEvery: 3 });
    const full = new Trainer(m.model, newAdapter(0.1), data.train, [], o);
    let cp: TrainCheckpoint | undefined;
    const { losses: uninterrupted } = await full.run((e) => {
      if (e.type === 'checkpoint' && e.step === 3) cp = e.checkpoint;
    });
    full.dispose();
    expect(cp?.step).toBe(3);
    // A checkpoint must survive serialisation: rebuild the typed arrays as storage would.
    const stored = structuredClone(cp!);
    const resumed = new Trainer(m.model, newAdapter(0.1), data.train, [], o);
    resumed.restore(stored);
    const { losses } = await resumed.run();
    resumed.dispose();
    expect(losses).toEqual(uninterrupted);
    expect(losses).toHaveLength(6);
  });

  it('pauses, resumes and cancels at step boundaries', async () => {
    const o = smallRunOptions(m, { maxSteps: 6 });
    const trainer = new Trainer(m.model, newAdapter(), data.train, [], o);
    const seen: string[] = [];
    const done = trainer.run((e) => {
      if (e.type !== 'phase') seen.push(e.type === 'step' ? `step${e.step}` : e.type);
      if (e.type === 'step' && e.step === 2) {
        trainer.pause();
        setTimeout(() => trainer.resume(), 20);
      }
      if (e.type === 'step' && e.step === 4) trainer.cancel();
    });
    const result = await done;
    trainer.dispose();
    expect(result.cancelled).toBe(true);
    expect(result.losses).toHaveLength(4);
    expect(seen).toEqual(['start', 'step1', 'step2', 'paused', 'resumed', 'step3', 'step4', 'done']);
  });
});
