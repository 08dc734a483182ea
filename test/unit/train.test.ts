// Real LoRA training of stories260K on story-instruct, on the wasm backend (the cpu backend
// is ~15× slower for training; cross-backend agreement is covered in train-backends).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import type { LoadedModel } from '../../src/engine/model/load';
import { createLoraAdapter, disposeAdapter, TARGET_PRESETS, type LoraAdapter } from '../../src/engine/lora/lora';
import { Trainer, type TrainCheckpoint } from '../../src/engine/train/trainer';
import type { TrainEvent } from '../../src/engine/train/events';
import { evaluate } from '../../src/engine/train/evaluate';
import { makeBatches, encodePrompt, type PreparedDataset } from '../../src/engine/data';
import { summedCrossEntropy } from '../../src/engine/train/loss';
import { generate } from '../../src/engine/generate/generate';
import { mulberry32 } from '../../src/engine/rng';
import { loadStories } from '../helpers/stories';
import { storyInstruct } from '../helpers/story-data';
import { smallRunOptions } from '../helpers/train-suite';

const ALL_LINEAR = { r: 8, alpha: 16, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] };

// Names and wording that appear nowhere in train.jsonl (checked in the first test).
const HELD_OUT = [
  { instruction: 'Write a story about a cat named Zorblat.', kind: 'cat', name: 'Zorblat' },
  { instruction: 'Tell me a story about Quimby, a happy dog.', kind: 'dog', name: 'Quimby' },
  { instruction: 'Write a story where Blip the frog finds a red hat.', kind: 'frog', name: 'Blip' },
];

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

  it('lowers validation loss far below the base model, with flat memory, and the tuned model follows held-out instructions', async () => {
    const trainText = data.train.concat(data.val).map((e) => m.tokenizer.decode(e.inputIds)).join('\n');
    for (const h of HELD_OUT) expect(trainText).not.toContain(h.name);

    const o = smallRunOptions(m, { batchSize: 8, maxSteps: 60, epochs: 3, warmupSteps: 5, evalEvery: 30 });
    const base = await evaluate(m.model, null, data.val, o);
    const adapter = newAdapter();
    const trainer = new Trainer(m.model, adapter, data.train, data.val, o);
    const memory: { numTensors: number; numBytes: number }[] = [];
    const events: TrainEvent[] = [];
    await trainer.run((e) => {
      events.push(e);
      if (e.type === 'step') memory[e.step] = { numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes };
    });
    trainer.dispose();
    const evals = events.filter((e) => e.type === 'eval');
    expect(evals.map((e) => e.step)).toEqual([30, 60]);
    const tuned = evals.at(-1)!.valLoss;
    expect(tuned).toBeLessThan(0.6 * base);

    // Tensor count and bytes are the same after step 2 as after step 50: nothing leaks per step.
    expect(memory[50]).toEqual(memory[2]);

    for (const h of HELD_OUT) {
      const prompt = encodePrompt({ turns: [{ role: 'user', content: h.instruction }] }, m.tokenizer, data.template, false);
      const b = (await generate(m.model, m.tokenizer, prompt, { maxNewTokens: 24 })).text;
      const t = (await generate(m.model, m.tokenizer, prompt, { maxNewTokens: 24, adapter })).text;
      // The dataset teaches "Once upon a time, there was a little <kind> named <Name>."
      expect(t, `tuned: ${t}`).toMatch(new RegExp(`^ ?Once upon a time, there was a little ${h.kind} named`));
      expect(b, `base: ${b}`).not.toMatch(/^ ?Once upon a time, there was a little/);
    }
  });

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
      seen.push(e.type === 'step' ? `step${e.step}` : e.type);
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
