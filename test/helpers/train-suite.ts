// The first training losses of stories260K on story-instruct, for comparing backends.
import type { LoadedModel } from '../../src/engine/model/load';
import { createLoraAdapter, disposeAdapter, TARGET_PRESETS } from '../../src/engine/lora/lora';
import { Trainer, DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../../src/engine/train/trainer';
import { padIdOf } from '../../src/engine/data';
import type { BatchExample } from '../../src/engine/data';
import { mulberry32 } from '../../src/engine/rng';
import type { TrainEvent } from '../../src/engine/train/events';

export function smallRunOptions(m: LoadedModel, extra: Partial<TrainOptions> = {}): TrainOptions {
  return { ...DEFAULT_TRAIN_OPTIONS, padId: padIdOf(m.tokenizer), maxLength: 128, batchSize: 2, learningRate: 3e-3, ...extra };
}

/** Losses of the first `steps` optimizer steps from a fresh seeded adapter on all linear layers. */
export async function firstLosses(
  m: LoadedModel,
  train: readonly BatchExample[],
  steps: number,
  extra: Partial<TrainOptions> = {},
  onEvent?: (e: TrainEvent) => void,
): Promise<number[]> {
  const adapter = createLoraAdapter(m.config, { r: 8, alpha: 16, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] }, mulberry32(1));
  const trainer = new Trainer(m.model, adapter, train, [], smallRunOptions(m, { maxSteps: steps, ...extra }));
  try {
    return (await trainer.run(onEvent)).losses;
  } finally {
    trainer.dispose();
    disposeAdapter(adapter);
  }
}
