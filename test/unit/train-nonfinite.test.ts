// A run whose loss or gradients stop being numbers stops at that step, before the step touches
// the adapter: the adapter and its checkpoints stay finite, nothing non-finite is exported, and
// `weblora train` exits non-zero naming the step and the likely causes. Two ways in: a learning
// rate that blows the weights up, and a NaN in the base model's weights.
import { float32Weight } from '../../kernels/half';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import type { LoadedModel } from '../../src/engine/model/load';
import { createLoraAdapter, disposeAdapter, loraTensors, TARGET_PRESETS, type LoraAdapter } from '../../src/engine/lora/lora';
import { AdapterError, exportPeft } from '../../src/engine/lora/peft';
import { mergedSafetensors } from '../../src/engine/lora/merge';
import { Trainer } from '../../src/engine/train/trainer';
import { NonFiniteTrainingError } from '../../src/engine/train/non-finite';
import type { PreparedDataset } from '../../src/engine/data';
import { mulberry32 } from '../../src/engine/rng';
import { loadStories } from '../helpers/stories';
import { storyInstruct, STORY_INSTRUCT } from '../helpers/story-data';
import { smallRunOptions } from '../helpers/train-suite';
import { runCliInProcess, storiesCopy } from '../helpers/cli-run';
import { toFailure } from '../../src/worker/failures';

const ATTENTION = { r: 4, alpha: 8, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS.attention] };

async function allFinite(adapter: LoraAdapter): Promise<boolean> {
  for (const [, v] of loraTensors(adapter)) if (!(await v.data()).every(Number.isFinite)) return false;
  return true;
}

describe('non-finite training (stories260K, wasm)', () => {
  let m: LoadedModel;
  let data: PreparedDataset;
  const adapters: LoraAdapter[] = [];
  const newAdapter = () => {
    const a = createLoraAdapter(m.config, ATTENTION, mulberry32(2));
    adapters.push(a);
    return a;
  };

  beforeAll(async () => {
    await initBackend({ prefer: 'wasm' });
    m = await loadStories();
    data = await storyInstruct(m.tokenizer);
  });
  afterAll(() => adapters.forEach(disposeAdapter));

  it('a diverging learning rate stops at the first non-finite loss, with the adapter and checkpoint of the step before', async () => {
    const adapter = newAdapter();
    const options = smallRunOptions(m, { batchSize: 2, maxSteps: 6, learningRate: 1e30, seed: 1, checkpointEvery: 1 });
    // The same steps at a sane rate first: what the model caches on first use is not a leak.
    const warm = new Trainer(m.model, newAdapter(), data.train, [], { ...options, learningRate: 1e-3 });
    await warm.run();
    warm.dispose();
    const before = tf.memory().numTensors;
    const trainer = new Trainer(m.model, adapter, data.train, [], options);
    const checkpoints: number[] = [];
    const steps: number[] = [];
    const err = await trainer
      .run((e) => {
        if (e.type === 'checkpoint') checkpoints.push(e.step);
        if (e.type === 'step') steps.push(e.loss);
      })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteTrainingError);
    const e = err as NonFiniteTrainingError;
    expect(e.step).toBe(trainer.step + 1);
    expect(e.message).toMatch(new RegExp(`^training stopped at step ${e.step}: the (loss|gradient norm) is (NaN|-?Infinity)`));
    expect(e.message).toContain('learning rate too high (1e+30 now');
    expect(e.message).toContain('NaN or inf in the model weights');
    // Every reported step was finite; the failing one was not applied.
    expect(steps.every(Number.isFinite)).toBe(true);
    expect(steps).toHaveLength(trainer.step);
    expect(checkpoints).toEqual(Array.from({ length: trainer.step }, (_, i) => i + 1));
    expect(await allFinite(adapter)).toBe(true);
    const cp = await trainer.checkpoint();
    expect(Object.values(cp.adapter).every((d) => d.every(Number.isFinite))).toBe(true);
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a NaN in the base weights stops at step 1 and blames the model; the adapter is untouched', async () => {
    const name = 'model.layers.2.mlp.down_proj.weight';
    const original = float32Weight(m.model.weights.get(name)!);
    const poisoned = tf.tidy(() => {
      const d = original.dataSync().slice();
      d[5] = Number.NaN;
      return tf.tensor(d, original.shape);
    });
    m.model.weights.set(name, poisoned);
    try {
      const adapter = newAdapter();
      const start = await Promise.all(loraTensors(adapter).map(async ([, v]) => (await v.data()).slice()));
      const trainer = new Trainer(m.model, adapter, data.train, [], smallRunOptions(m, { batchSize: 2, maxSteps: 3, seed: 1 }));
      const err = await trainer.run().then(() => null, (e: unknown) => e);
      trainer.dispose();
      expect(err).toBeInstanceOf(NonFiniteTrainingError);
      expect((err as Error).message).toMatch(/^training stopped at step 1: the loss is NaN.*the base model itself fails: its weights likely hold NaN or inf/);
      // The app shows the same message (the worker's failure for the UI), with what to do.
      expect(toFailure(err)).toEqual({ kind: 'diverged', message: (err as Error).message, hint: expect.stringContaining('Lower the learning rate') });
      const after = await Promise.all(loraTensors(adapter).map(async ([, v]) => (await v.data()).slice()));
      expect(after).toEqual(start);
    } finally {
      m.model.weights.set(name, original);
      poisoned.dispose();
    }
  });

  it('an adapter holding NaN is never exported, merged or checkpointed', async () => {
    const adapter = newAdapter();
    const [, b] = loraTensors(adapter).find(([k]) => k.endsWith('.lora_B'))!;
    b.assign(tf.fill(b.shape, Number.NaN));
    await expect(exportPeft(adapter, 'stories260K')).rejects.toThrow(AdapterError);
    await expect(exportPeft(adapter, 'stories260K')).rejects.toThrow(/refusing to write the adapter: tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_B\.weight" holds NaN/);
    await expect(mergedSafetensors(m.model.weights, m.config, adapter)).rejects.toThrow(/refusing to merge the adapter/);
    const trainer = new Trainer(m.model, adapter, data.train, [], smallRunOptions(m, { batchSize: 2, maxSteps: 1 }));
    await expect(trainer.checkpoint()).rejects.toThrow(NonFiniteTrainingError);
    trainer.dispose();
  });
});

describe('weblora train on a model with NaN weights', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'weblora-nan-'));
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it('exits 1 naming the step and the causes, and writes no adapter', async () => {
    const model = await storiesCopy(join(scratch, 'nan-model'), (d) => {
      d[d.length - 100] = Number.NaN;
    });
    const out = join(scratch, 'out');
    const r = await runCliInProcess(['train', '--model', model, '--data', STORY_INSTRUCT, '--max-steps', '3', '--batch', '2', '--max-len', '64', '--backend', 'wasm', '--checkpoint-every', '1', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/weblora train: error: training stopped at step 1: the loss is NaN/);
    expect(r.stderr).toContain('learning rate too high');
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(false);
    expect(existsSync(join(out, 'adapter_config.json'))).toBe(false);
    const left = existsSync(out) ? await readdir(out, { recursive: true }) : [];
    expect(left.filter((f) => String(f).endsWith('.safetensors'))).toEqual([]);
    // The log says the run failed and why, rather than 'running' from its last checkpoint.
    const log = JSON.parse(await readFile(join(out, 'train_log.json'), 'utf8'));
    expect(log.status).toBe('failed');
    expect(log.error).toMatch(/^training stopped at step 1: the loss is NaN/);
  });
});
