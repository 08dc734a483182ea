// Training presets and the one-line explanation of every hyperparameter.
import type { TrainConfig } from '../../worker/api';

export const TARGETS = {
  'attention-qv': { label: 'Attention q, v', modules: ['q_proj', 'v_proj'] },
  attention: { label: 'All attention (q, k, v, o)', modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] },
  'all-linear': {
    label: 'All linear layers',
    modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  },
} as const;
export type TargetPreset = keyof typeof TARGETS;

export function targetPresetOf(modules: readonly string[]): TargetPreset | 'custom' {
  const key = [...modules].sort().join(',');
  for (const [name, t] of Object.entries(TARGETS)) if ([...t.modules].sort().join(',') === key) return name as TargetPreset;
  return 'custom';
}

const base: TrainConfig = {
  lora: { r: 8, alpha: 16, dropout: 0, useRslora: false, targetModules: [...TARGETS['attention-qv'].modules] },
  init: 'new',
  learningRate: 5e-4,
  epochs: 1,
  maxSteps: 0,
  batchSize: 8,
  gradAccum: 1,
  warmupSteps: 10,
  schedule: 'cosine',
  weightDecay: 0,
  maxGradNorm: 1,
  evalEvery: 25,
  checkpointEvery: 10,
  seed: 0,
  shuffle: true,
  evalBase: true,
};

export interface TrainPreset {
  label: string;
  description: string;
  config: TrainConfig;
  /**
   * Sized to the dataset: enough epochs for at least this many optimizer steps (a small dataset
   * would otherwise end before the adapter learns anything), warm-up ~10% of the run.
   */
  minSteps: number;
}

export const TRAIN_PRESETS: Record<string, TrainPreset> = {
  quick: {
    label: 'Quick check',
    description: 'A short run that shows within a minute or two whether the loss goes down.',
    minSteps: 30,
    config: {
      ...base,
      lora: { ...base.lora, r: 4, alpha: 8 },
      learningRate: 1e-3,
      maxSteps: 30,
      batchSize: 4,
      warmupSteps: 0,
      evalEvery: 10,
      checkpointEvery: 10,
    },
  },
  standard: {
    label: 'Standard',
    description: 'A rank-8 adapter on the attention projections; at least one epoch, more on a small dataset (about 40 steps).',
    minSteps: 40,
    config: { ...base, learningRate: 1e-3, lora: { ...base.lora, targetModules: [...TARGETS.attention.modules] } },
  },
  thorough: {
    label: 'Thorough',
    description: 'Three epochs or more (about 80 steps), rank 16 on every linear layer, a larger effective batch: best quality, slowest.',
    minSteps: 80,
    config: {
      ...base,
      lora: { ...base.lora, r: 16, alpha: 32, dropout: 0.05, targetModules: [...TARGETS['all-linear'].modules] },
      learningRate: 2e-4,
      epochs: 3,
      gradAccum: 2,
      warmupSteps: 20,
      weightDecay: 0.01,
      evalEvery: 50,
      checkpointEvery: 25,
    },
  },
};
export const DEFAULT_PRESET = 'standard';

const MAX_SIZED_EPOCHS = 20;

/** A preset's epochs and warm-up for a dataset of `stepsPerEpoch` optimizer steps per epoch. */
export function sizedToData(preset: TrainPreset, config: TrainConfig, stepsPerEpoch: number): Pick<TrainConfig, 'epochs' | 'warmupSteps'> {
  const spe = Math.max(1, stepsPerEpoch);
  const epochs = Math.max(preset.config.epochs, Math.min(MAX_SIZED_EPOCHS, Math.ceil(preset.minSteps / spe)));
  const total = config.maxSteps > 0 ? Math.min(config.maxSteps, epochs * spe) : epochs * spe;
  const warmupSteps = preset.config.warmupSteps === 0 ? 0 : Math.max(1, Math.round(total / 10));
  return { epochs, warmupSteps };
}

export const HELP = {
  rank: 'Size of the low-rank update: higher learns more, costs more memory.',
  alpha: 'Scales the update; the effective scale is alpha / rank.',
  dropout: 'Randomly drops adapter inputs while training; helps against overfitting small data.',
  rslora: 'Scale by alpha / √rank instead of alpha / rank; keeps large ranks stable.',
  targets: 'Which linear layers get an adapter.',
  learningRate: 'Step size of AdamW; LoRA tolerates larger values than full fine-tuning.',
  epochs: 'Passes over the training split.',
  maxSteps: 'Stop after this many optimizer steps (0: run every epoch).',
  batchSize: 'Examples per micro-batch: the main driver of memory use.',
  gradAccum: 'Micro-batches per optimizer step: a larger effective batch without more memory.',
  warmupSteps: 'Steps over which the learning rate ramps up from 0.',
  schedule: 'How the learning rate decays after warmup.',
  weightDecay: 'Pulls adapter weights towards 0 each step (decoupled, as in AdamW).',
  maxGradNorm: 'Clips the gradient’s global norm to this value (0: no clipping).',
  evalEvery: 'Validation loss every N steps (0: only at the end).',
  checkpointEvery: 'Saves resumable state in this browser every N steps (0: never).',
  seed: 'Makes initialisation, data order and dropout repeatable.',
  shuffle: 'Shuffle the examples every epoch.',
  evalBase: 'Measure the untrained model’s validation loss first, as a baseline.',
  init: 'Start a fresh adapter, or keep training the one loaded now (imported or trained before).',
} as const;
