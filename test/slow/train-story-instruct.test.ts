// Real LoRA training of stories260K on story-instruct, on the wasm backend: 60 steps lower the
// validation loss far below the base model's, memory stays flat, and the tuned model follows
// held-out instructions. Two minutes on two cores, hence the slow lane; the short training
// checks (step loss, resume, pause) are in test/unit/train.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import type { LoadedModel } from '../../src/engine/model/load';
import { createLoraAdapter, disposeAdapter, TARGET_PRESETS, type LoraAdapter } from '../../src/engine/lora/lora';
import { Trainer } from '../../src/engine/train/trainer';
import type { TrainEvent } from '../../src/engine/train/events';
import { evaluate } from '../../src/engine/train/evaluate';
import { encodePrompt, type PreparedDataset } from '../../src/engine/data';
import { generate } from '../../src/engine/generate/generate';
import { mulberry32 } from '../../src/engine/rng';
import { loadStories } from '../helpers/stories';
import { storyInstruct } from '../helpers/story-data';
import { smallRunOptions } from '../helpers/train-suite';

const ALL_LINEAR = { r: 8, alpha: 16, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] };

// Names and wording that appear nowhere in train.jsonl (checked first).
const HELD_OUT = [
  { instruction: 'Write a story about a cat named Zorblat.', kind: 'cat', name: 'Zorblat' },
  { instruction: 'Tell me a story about Quimby, a happy dog.', kind: 'dog', name: 'Quimby' },
  { instruction: 'Write a story where Blip the frog finds a red hat.', kind: 'frog', name: 'Blip' },
];

describe('LoRA training of stories260K on story-instruct (wasm)', () => {
  let m: LoadedModel;
  let data: PreparedDataset;
  let adapter: LoraAdapter | undefined;

  beforeAll(async () => {
    await initBackend({ prefer: 'wasm' });
    m = await loadStories();
    data = await storyInstruct(m.tokenizer);
  });
  afterAll(() => adapter && disposeAdapter(adapter));

  it('lowers validation loss far below the base model, with flat memory, and the tuned model follows held-out instructions', async () => {
    const trainText = data.train.concat(data.val).map((e) => m.tokenizer.decode(e.inputIds)).join('\n');
    for (const h of HELD_OUT) expect(trainText).not.toContain(h.name);

    const o = smallRunOptions(m, { batchSize: 8, maxSteps: 60, epochs: 3, warmupSteps: 5, evalEvery: 30 });
    const base = await evaluate(m.model, null, data.val, o);
    adapter = createLoraAdapter(m.config, ALL_LINEAR, mulberry32(1));
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
});
