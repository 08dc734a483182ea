import type { TrainOptions } from '../../engine/train/trainer';
import { defineCommand, type CommandDefinition } from '../command';
import { parseFlags } from '../shared/flags';
import { BACKEND_ROW, HELP_ROW, KERNELS_ROW, PRECISION_ROW, helpSection } from '../shared/help';
import { BACKEND_CHOICES, KERNEL_CHOICES, PRECISION_CHOICES, type BackendChoice, type KernelChoice, PrecisionChoice } from '../shared/backend-choice';
import { DATA_OPTIONS, DATA_ROWS, parseDataArgs, type DataArgs } from '../shared/data';

/** LoRA settings as given; undefined = not on the command line (an --init-adapter decides). */
export interface LoraArgs {
  r?: number;
  alpha?: number;
  targets?: string[];
  dropout?: number;
  rslora?: boolean;
}

export const DEFAULT_KEEP_CHECKPOINTS = 2;

export const LORA_DEFAULTS = { r: 8, alpha: 16, targets: ['q_proj', 'v_proj'], dropout: 0, rslora: false };

/** The Trainer's options as flags give them (the data's max length and the pad id come later). */
export type TrainLoopArgs = Required<Omit<TrainOptions, 'maxLength' | 'padId' | 'tuneKernels' | 'maxSteps'>> & Pick<TrainOptions, 'maxSteps'>;

export interface TrainArgs {
  model: string;
  data: DataArgs;
  out: string;
  lora: LoraArgs;
  loop: TrainLoopArgs;
  valFraction?: number;
  initAdapter?: string;
  resume: boolean;
  /** --resume-from: a kept checkpoint's step instead of the newest. */
  resumeFrom?: number;
  keepCheckpoints: number;
  backend: BackendChoice;
  kernels: KernelChoice;
  precision: PrecisionChoice;
}

/** Exported for `export-job`, which takes the same data, LoRA and training flags. */
export const TRAIN: CommandDefinition<TrainArgs> = {
  name: 'train',
  summary: 'LoRA fine-tune on a JSONL dataset; writes a PEFT adapter',
  help: `Usage: weblora train --model DIR --data FILE --out DIR [options]

Trains a LoRA adapter and writes to --out: adapter_config.json + adapter_model.safetensors
(Hugging Face PEFT format) and train_log.json (settings, the data report with every bad line,
one record per optimizer step and one per evaluation). Prints a progress line per step. Bad
data lines are reported on stderr as file:line: reason and skipped; training goes on.

${helpSection(null, [
  ['--model DIR', 'model folder (required)'],
  ['--out DIR', 'output folder, created if missing (required)'],
  BACKEND_ROW,
  KERNELS_ROW,
  PRECISION_ROW,
  HELP_ROW,
])}

${helpSection('Data', [
  ...DATA_ROWS,
  ['--val-fraction F', 'hold out this share of the records (0 <= F < 1) and evaluate on it\nat step 0, every --eval-every steps and at the end (0: no validation split)'],
])}

${helpSection('LoRA', [
  ['--rank N', 'rank r (default 8)'],
  ['--alpha A', 'alpha; the update is scaled by alpha/r (default 16)'],
  ['--targets LIST', 'modules to adapt, e.g. q_proj,v_proj, or a preset: attention-qv,\nattention, all-linear (default q_proj,v_proj)'],
  ['--dropout P', 'LoRA dropout, 0 <= P < 1 (default 0)'],
  ['--rslora', 'rank-stabilised scaling alpha/sqrt(r)'],
  ['--init-adapter DIR', 'start from this PEFT adapter (its rank, alpha and targets apply)'],
])}

${helpSection('Training', [
  ['--lr LR', 'peak learning rate (default 2e-4)'],
  ['--epochs N', 'passes over the training split (default 1)'],
  ['--max-steps N', 'stop after N optimizer steps, if the epochs make more'],
  ['--batch N', 'examples per micro-batch (default 8)'],
  ['--grad-accum K', 'micro-batches per optimizer step (default 1)'],
  ['--seed S', 'seed of data order, split, LoRA init and dropout (default 0)'],
  ['--no-shuffle', "keep the file's order (within length buckets)"],
  ['--packing', 'pack several examples into each row'],
  ['--warmup N', 'linear warm-up steps (default 0)'],
  ['--schedule S', 'cosine | linear | constant, after warm-up (default cosine)'],
  ['--weight-decay W', 'AdamW decoupled weight decay (default 0)'],
  ['--max-grad-norm G', 'clip gradients to this global norm (default 1; 0: no clipping)'],
  ['--eval-every N', 'evaluate every N steps (needs --val-fraction)'],
])}

${helpSection('Checkpoints', [
  ['--checkpoint-every N', 'write --out/checkpoint every N steps: adapter, AdamW moments, step'],
  ['--keep-checkpoints K', 'keep the last K checkpoints (default 2), so a damaged one can be\nrolled back'],
  ['--resume', 'continue from --out/checkpoint; give the first run\'s settings (they are\nchecked). The losses are then those of an uninterrupted run'],
  ['--resume-from STEP', 'continue from the kept checkpoint of STEP instead of the newest\n(implies --resume)'],
])}
  Each checkpoint records the SHA-256 of its files; --resume refuses a damaged one, naming
  the file. Ctrl-C or SIGTERM stops at the next step boundary and writes the checkpoint (exit
  130 or 143); Ctrl-C again quits at once. A finished run removes its checkpoints. --out is
  checked and locked before any work: a second run on the same --out is refused.`,
  options: {
    model: { type: 'string' },
    out: { type: 'string' },
    ...DATA_OPTIONS,
    'val-fraction': { type: 'string' },
    rank: { type: 'string' },
    alpha: { type: 'string' },
    targets: { type: 'string' },
    dropout: { type: 'string' },
    rslora: { type: 'boolean' },
    'init-adapter': { type: 'string' },
    lr: { type: 'string' },
    epochs: { type: 'string' },
    'max-steps': { type: 'string' },
    batch: { type: 'string' },
    'grad-accum': { type: 'string' },
    seed: { type: 'string' },
    'no-shuffle': { type: 'boolean' },
    packing: { type: 'boolean' },
    warmup: { type: 'string' },
    schedule: { type: 'string' },
    'weight-decay': { type: 'string' },
    'max-grad-norm': { type: 'string' },
    'eval-every': { type: 'string' },
    'checkpoint-every': { type: 'string' },
    'keep-checkpoints': { type: 'string' },
    resume: { type: 'boolean' },
    'resume-from': { type: 'string' },
    backend: { type: 'string' },
    kernels: { type: 'string' },
    precision: { type: 'string' },
  },
  parse(f) {
    // 0 is "no validation split", the app's setting for it.
    const valFraction = f.number('val-fraction', undefined, { min: 0, below: 1 }) || undefined;
    const resumeFrom = f.int('resume-from', undefined, { min: 1 });
    const evalEvery = f.int('eval-every', 0, { min: 1 });
    if (f.has('eval-every') && valFraction === undefined) throw f.error('--eval-every needs a validation split: add --val-fraction F (e.g. 0.1)');
    const maxSteps = f.int('max-steps', undefined, { min: 1 });
    const initAdapter = f.string('init-adapter');
    const lora: LoraArgs = {
      r: f.int('rank', undefined, { min: 1 }),
      alpha: f.number('alpha', undefined, { above: 0 }),
      targets: f.list('targets'),
      dropout: f.number('dropout', undefined, { min: 0, below: 1 }),
      rslora: f.has('rslora') ? true : undefined,
    };
    return {
      model: f.required('model'),
      data: parseDataArgs(f),
      out: f.required('out'),
      lora,
      loop: {
        learningRate: f.number('lr', 2e-4, { above: 0 }),
        epochs: f.int('epochs', 1, { min: 1 }),
        ...(maxSteps === undefined ? {} : { maxSteps }),
        batchSize: f.int('batch', 8, { min: 1 }),
        gradAccum: f.int('grad-accum', 1, { min: 1 }),
        seed: f.int('seed', 0),
        shuffle: !f.bool('no-shuffle'),
        packing: f.bool('packing'),
        warmupSteps: f.int('warmup', 0, { min: 0 }),
        schedule: f.choice('schedule', ['cosine', 'linear', 'constant'] as const, 'cosine'),
        weightDecay: f.number('weight-decay', 0, { min: 0 }),
        maxGradNorm: f.number('max-grad-norm', 1, { min: 0 }),
        evalEvery,
        checkpointEvery: f.int('checkpoint-every', 0, { min: 1 }),
      },
      ...(valFraction === undefined ? {} : { valFraction }),
      ...(initAdapter === undefined ? {} : { initAdapter }),
      resume: f.bool('resume') || resumeFrom !== undefined,
      ...(resumeFrom === undefined ? {} : { resumeFrom }),
      keepCheckpoints: f.int('keep-checkpoints', DEFAULT_KEEP_CHECKPOINTS, { min: 1 }),
      backend: f.choice('backend', BACKEND_CHOICES, 'auto'),
      kernels: f.choice('kernels', KERNEL_CHOICES, 'fused'),
      precision: f.choice('precision', PRECISION_CHOICES, 'fp32'),
    };
  },
  load: async () => (await import('./run')).runTrain,
};

export const trainCommand = defineCommand(TRAIN);

/** A `weblora train` command line as typed args (a usage error throws), without running it. */
export function parseTrainArgs(argv: readonly string[]): TrainArgs {
  return TRAIN.parse(parseFlags('train', argv, TRAIN.options));
}

