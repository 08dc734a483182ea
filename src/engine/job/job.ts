// A WebLoRA run as a Hugging Face job for GPU servers: the files, from the run's definition and
// its dataset as WebLoRA read it. Pure TypeScript (no Node, no DOM): the app zips these files and
// `weblora export-job` writes them, byte for byte the same. Nothing here reaches the network.
import type { LoadedDataset } from '../data/load';
import type { PreparedDataset } from '../data/pipeline';
import { summarizeReport } from '../data/report';
import type { TrainOn } from '../data/tokenize';
import type { LoraConfig } from '../lora/lora';
import { planRun } from '../train/plan';
import { ADAMW_DEFAULTS } from '../train/optimizer';
import type { TrainOptions } from '../train/trainer';
import { ACCELERATE_CONFIGS, REQUIREMENTS_TXT } from './accelerate';
import { jobRecords, jsonl } from './dataset';
import { jobReadme } from './readme';
import { TRAIN_PY } from './train-py';

export const JOB_DATASET = 'data/dataset.jsonl';
export const JOB_REPORT = 'data/report.txt';

export interface JobInput {
  /** The model as the user knows it (a hub id, or the loaded folder's name). */
  model: { name: string; family: string; fingerprint: string };
  loaded: LoadedDataset;
  prepared: PreparedDataset;
  data: { trainOn: TrainOn; maxLength: number; appendEos?: boolean; valFraction?: number; seed: number };
  lora: LoraConfig;
  /** The Trainer's options exactly as the run uses them (pad id included). */
  training: TrainOptions;
  /** Evaluate the starting adapter (the base model) before the first step. */
  evalBase: boolean;
}

export interface JobFile {
  name: string;
  text: string;
}

/** The options with every optional field set, so job.json reads the same whoever wrote it. */
function fullOptions(o: TrainOptions): Required<Omit<TrainOptions, 'tuneKernels'>> {
  return {
    learningRate: o.learningRate,
    epochs: o.epochs,
    maxSteps: o.maxSteps ?? 0,
    batchSize: o.batchSize,
    gradAccum: o.gradAccum,
    maxLength: o.maxLength,
    padId: o.padId,
    seed: o.seed,
    shuffle: o.shuffle,
    packing: o.packing ?? false,
    warmupSteps: o.warmupSteps,
    schedule: o.schedule,
    weightDecay: o.weightDecay,
    maxGradNorm: o.maxGradNorm,
    evalEvery: o.evalEvery,
    checkpointEvery: o.checkpointEvery ?? 0,
  };
}

export function jobDefinition(input: JobInput) {
  const { prepared, data } = input;
  const training = fullOptions(input.training);
  if (training.maxLength !== data.maxLength) throw new Error(`the run's max length ${training.maxLength} is not the dataset's ${data.maxLength}`);
  const plan = planRun(prepared.train, training);
  const { lengths: _lengths, ...report } = prepared.report;
  const check = [...prepared.train.slice(0, 2).map((e) => ({ e, split: 'train' })), ...prepared.val.slice(0, 1).map((e) => ({ e, split: 'val' }))];
  return {
    format: 'weblora-job',
    version: 1,
    model: input.model,
    data: {
      path: JOB_DATASET,
      file: prepared.report.files.map((f) => f.file).join(', '),
      template: prepared.template,
      trainOn: data.trainOn,
      maxLength: data.maxLength,
      appendEos: data.appendEos ?? null,
      valFraction: data.valFraction ?? 0,
      splitSeed: data.seed,
    },
    lora: { ...input.lora, targetModules: [...input.lora.targetModules] },
    training,
    adamw: { beta1: ADAMW_DEFAULTS.beta1, beta2: ADAMW_DEFAULTS.beta2, eps: ADAMW_DEFAULTS.eps },
    evalBase: input.evalBase,
    plan: { trainExamples: prepared.train.length, valExamples: prepared.val.length, stepsPerEpoch: plan.stepsPerEpoch, totalSteps: plan.totalSteps },
    // train.py stops when its tokenizer does not make these (same model only).
    token_check: check.map(({ e, split }) => ({ source: { file: e.file, line: e.line }, split, input_ids: e.inputIds, loss_mask: e.lossMask })),
    data_report: report,
  };
}

export type JobDefinition = ReturnType<typeof jobDefinition>;

export function jobFiles(input: JobInput): JobFile[] {
  const job = jobDefinition(input);
  return [
    { name: 'README.md', text: jobReadme(job) },
    { name: 'train.py', text: TRAIN_PY },
    { name: 'requirements.txt', text: REQUIREMENTS_TXT },
    { name: 'job.json', text: `${jsonText(job)}\n` },
    { name: JOB_DATASET, text: jsonl(jobRecords(input.loaded.samples, input.prepared.val)) },
    { name: JOB_REPORT, text: `${summarizeReport(input.prepared.report, Number.POSITIVE_INFINITY)}\n` },
    ...Object.entries(ACCELERATE_CONFIGS).map(([name, text]) => ({ name, text })),
  ];
}

/** Indented JSON with arrays of numbers (token ids, masks) kept on one line. */
function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\[\s+(-?\d[\d\s,.eE+-]*?)\s+\]/g, (_, inner: string) => `[${inner.replace(/\s+/g, '')}]`);
}
