// Pause and Stop act at the next boundary of whatever the run is doing — the base model's
// evaluation, a step, a periodic evaluation — and also when asked before the run has started.
// The run reports its phase with progress, so the UI can say what it waits for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend';
import type { LoadedModel } from '../../src/engine/model/load';
import { createLoraAdapter, disposeAdapter, TARGET_PRESETS, type LoraAdapter } from '../../src/engine/lora/lora';
import { Trainer } from '../../src/engine/train/trainer';
import type { TrainEvent } from '../../src/engine/train/events';
import { evaluate } from '../../src/engine/train/evaluate';
import type { PreparedDataset } from '../../src/engine/data';
import { mulberry32 } from '../../src/engine/rng';
import { loadStories } from '../helpers/stories';
import { storyInstruct } from '../helpers/story-data';
import { smallRunOptions } from '../helpers/train-suite';

type Phase = Extract<TrainEvent, { type: 'phase' }>;

describe('training phases: pause and stop at every boundary (wasm)', () => {
  let m: LoadedModel;
  let data: PreparedDataset;
  const adapters: LoraAdapter[] = [];
  const trainer = (extra = {}) => {
    const a = createLoraAdapter(m.config, { r: 4, alpha: 8, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['attention']] }, mulberry32(1));
    adapters.push(a);
    // batch 2 over 60 validation examples: 30 evaluation batches.
    return new Trainer(m.model, a, data.train, data.val, smallRunOptions(m, { maxSteps: 3, evalEvery: 2, ...extra }));
  };

  beforeAll(async () => {
    await initBackend({ prefer: 'wasm' });
    m = await loadStories();
    data = await storyInstruct(m.tokenizer);
    expect(data.val.length).toBe(60);
  });
  afterAll(() => adapters.forEach(disposeAdapter));

  it('Stop during the base evaluation ends the run within one batch, before any step', async () => {
    const t = trainer();
    const events: TrainEvent[] = [];
    const result = await t.run(
      (e) => {
        events.push(e);
        if (e.type === 'phase' && e.phase === 'evaluating-base' && e.done === 3) t.cancel();
      },
      { evalBase: true },
    );
    t.dispose();
    expect(result.cancelled).toBe(true);
    expect(t.step).toBe(0);
    const phases = events.filter((e): e is Phase => e.type === 'phase');
    expect(phases.every((p) => p.phase === 'evaluating-base' && p.total === 30)).toBe(true);
    expect(Math.max(...phases.map((p) => p.done))).toBeLessThanOrEqual(4);
    expect(events.some((e) => e.type === 'base-eval' || e.type === 'step')).toBe(false);
    expect(events.at(-1)).toMatchObject({ type: 'done', cancelled: true, step: 0 });
  }, 120_000);

  it('Pause during the base evaluation holds it at a batch boundary; Resume finishes it with the same loss', async () => {
    const t = trainer({ maxSteps: 1, evalEvery: 0 });
    const events: TrainEvent[] = [];
    let batchesWhilePaused = -1;
    const result = await t.run(
      (e) => {
        events.push(e);
        if (e.type === 'phase' && e.phase === 'evaluating-base' && e.done === 2) t.pause();
        if (e.type === 'paused') {
          const seen = events.length;
          setTimeout(() => {
            batchesWhilePaused = events.length - seen;
            t.resume();
          }, 300);
        }
      },
      { evalBase: true },
    );
    t.dispose();
    expect(result.cancelled).toBe(false);
    expect(batchesWhilePaused).toBe(0);
    const paused = events.findIndex((e) => e.type === 'paused');
    expect(events[paused - 1]).toMatchObject({ type: 'phase', phase: 'evaluating-base', done: 2 });
    expect(events[paused + 1]).toMatchObject({ type: 'resumed', step: 0 });
    const base = events.find((e) => e.type === 'base-eval') as Extract<TrainEvent, { type: 'base-eval' }>;
    // A new adapter's B is zero: the run starts from exactly the base model's loss.
    expect(base.valLoss).toBe(await evaluate(m.model, null, data.val, smallRunOptions(m)));
    expect(events.findIndex((e) => e.type === 'base-eval')).toBeLessThan(events.findIndex((e) => e.type === 'step'));
  }, 120_000);

  it('Stop during a periodic evaluation ends the run without a partial eval', async () => {
    const t = trainer();
    const events: TrainEvent[] = [];
    const result = await t.run((e) => {
      events.push(e);
      if (e.type === 'phase' && e.phase === 'evaluating' && e.done === 1) t.cancel();
    });
    t.dispose();
    expect(result.cancelled).toBe(true);
    expect(t.step).toBe(2);
    expect(events.some((e) => e.type === 'eval')).toBe(false);
  }, 120_000);

  it('Stop or Pause asked before run() starts take effect at its first boundary', async () => {
    const stopped = trainer();
    stopped.cancel();
    const events: TrainEvent[] = [];
    const r = await stopped.run((e) => events.push(e), { evalBase: true });
    stopped.dispose();
    expect(r.cancelled).toBe(true);
    expect(stopped.step).toBe(0);
    expect(events.filter((e) => e.type === 'phase' && e.done > 0)).toEqual([]);

    const paused = trainer({ maxSteps: 1, evalEvery: 0 });
    paused.pause();
    const seen: string[] = [];
    const done = paused.run((e) => {
      seen.push(e.type);
      if (e.type === 'paused') setTimeout(() => paused.cancel(), 50);
    });
    const r2 = await done;
    paused.dispose();
    expect(seen.slice(0, 2)).toEqual(['start', 'paused']);
    expect(r2).toMatchObject({ cancelled: true, losses: [] });
  }, 120_000);

  it('warm-up set at or beyond the run is capped to about 10% of it, with a warning', async () => {
    const t = trainer({ maxSteps: 3, evalEvery: 0, warmupSteps: 10, learningRate: 1e-3 });
    const events: TrainEvent[] = [];
    await t.run((e) => events.push(e));
    t.dispose();
    const warning = events.find((e) => e.type === 'warning') as Extract<TrainEvent, { type: 'warning' }>;
    expect(warning.message).toMatch(/10 warm-up steps .* 3-step run; warming up over 1 instead/);
    const lrs = events.flatMap((e) => (e.type === 'step' ? [e.lr] : []));
    // One warm-up step (lr 0, as transformers' schedule starts), then the full rate decaying.
    expect(lrs[0]).toBe(0);
    expect(lrs[1]).toBeGreaterThan(0.5e-3);
  }, 120_000);

  it('reports elapsed time and an ETA that counts the evaluations still due', async () => {
    const t = trainer({ maxSteps: 4, evalEvery: 2 });
    const events: TrainEvent[] = [];
    await t.run((e) => events.push(e));
    t.dispose();
    const steps = events.filter((e): e is Extract<TrainEvent, { type: 'step' }> => e.type === 'step');
    // After step 1 two evaluations of 30 batches remain: the ETA is more than the two steps left.
    expect(steps[0]!.etaMs).toBeGreaterThan(0);
    const evalPhases = events.filter((e): e is Phase => e.type === 'phase' && e.phase === 'evaluating');
    expect(evalPhases.every((p) => p.etaMs !== null && p.elapsedMs > 0)).toBe(true);
    // Elapsed keeps growing through the evaluations.
    const elapsed = evalPhases.map((p) => p.elapsedMs);
    expect([...elapsed].sort((a, b) => a - b)).toEqual(elapsed);
    expect(steps.at(-1)!.etaMs).toBeLessThan(steps[0]!.etaMs + 1);
  }, 120_000);
});
