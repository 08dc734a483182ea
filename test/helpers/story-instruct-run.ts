// The story-instruct run that shows a tuned stories260K: 60 steps lower the validation loss far
// below the base model's with flat memory, and the tuned model follows held-out instructions
// the dataset never shows. One body for every backend and precision that runs it
// (test/slow/train-story-instruct*.test.ts).
import { expect } from 'vitest';
import { tf } from '../../src/engine/tf';
import type { LoadedModel } from '../../src/engine/model/load';
import { createLoraAdapter, TARGET_PRESETS, type LoraAdapter } from '../../src/engine/lora/lora';
import { Trainer } from '../../src/engine/train/trainer';
import type { TrainEvent } from '../../src/engine/train/events';
import { evaluate } from '../../src/engine/train/evaluate';
import { encodePrompt, type PreparedDataset } from '../../src/engine/data';
import { generate } from '../../src/engine/generate/generate';
import { mulberry32 } from '../../src/engine/rng';
import { smallRunOptions } from './train-suite';

const ALL_LINEAR = { r: 8, alpha: 16, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] };

// Names and wording that appear nowhere in train.jsonl (checked first).
const HELD_OUT = [
  { instruction: 'Write a story about a cat named Zorblat.', kind: 'cat', name: 'Zorblat' },
  { instruction: 'Tell me a story about Quimby, a happy dog.', kind: 'dog', name: 'Quimby' },
  { instruction: 'Write a story where Blip the frog finds a red hat.', kind: 'frog', name: 'Blip' },
];

/** Trains a fresh adapter on `data` and checks the run and the tuned model; returns the adapter (the caller disposes it). */
export async function trainAndFollowHeldOut(m: LoadedModel, data: PreparedDataset, onAdapter: (a: LoraAdapter) => void = () => {}, label = ''): Promise<LoraAdapter> {
  const trainText = data.train.concat(data.val).map((e) => m.tokenizer.decode(e.inputIds)).join('\n');
  for (const h of HELD_OUT) expect(trainText).not.toContain(h.name);

  const o = smallRunOptions(m, { batchSize: 8, maxSteps: 60, epochs: 3, warmupSteps: 5, evalEvery: 30 });
  const base = await evaluate(m.model, null, data.val, o);
  const adapter = createLoraAdapter(m.config, ALL_LINEAR, mulberry32(1));
  onAdapter(adapter);
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
  console.log(`story-instruct ${label}: validation loss ${base.toFixed(4)} (base) → ${tuned.toFixed(4)} (tuned, step 60)`);
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
    console.log(`story-instruct ${label}: "${h.instruction}" → tuned "${t}"`);
  }
  return adapter;
}
