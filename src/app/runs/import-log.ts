// A train_log.json (written by `weblora train` or by an exported job's train.py on a GPU server)
// as a saved run: its settings, steps and evaluations, so the Runs panel lists it beside the
// browser's runs with its loss curve. Every field is checked; a bad one is named.
import type { DataOptions, ModelInfo, TrainConfig } from '../../worker/api';
import { DEFAULT_DATA_OPTIONS } from '../../worker/api';
import type { EvalPoint, StepPoint } from '../store';
import type { RunRecord } from './db';

export const TRAIN_LOG = 'train_log.json';

export class TrainLogError extends Error {
  override name = 'TrainLogError';
}

type Obj = Record<string, unknown>;

function obj(v: unknown, where: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TrainLogError(`${TRAIN_LOG}: ${where} is not an object`);
  return v as Obj;
}

function num(o: Obj, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TrainLogError(`${TRAIN_LOG}: ${where}.${key} is not a number (${JSON.stringify(v)})`);
  return v;
}

export function runFromTrainLog(text: string, model: ModelInfo, id: string, now: number): RunRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TrainLogError(`${TRAIN_LOG} is not JSON (${(e as Error).message})`);
  }
  const log = obj(raw, 'the file');
  if (log.format !== 'weblora-train-log') throw new TrainLogError(`${TRAIN_LOG}: "format" is ${JSON.stringify(log.format)}, not "weblora-train-log"`);
  const options = obj(log.options, '"options"');
  const lora = obj(log.lora, '"lora"');
  if (!Array.isArray(log.records)) throw new TrainLogError(`${TRAIN_LOG}: "records" is not a list`);
  const points: StepPoint[] = [];
  const evals: EvalPoint[] = [];
  let baseEval: number | null = null;
  log.records.forEach((r: unknown, i: number) => {
    const rec = obj(r, `records[${i}]`);
    const where = `records[${i}]`;
    if (rec.type === 'step') {
      points.push({
        step: num(rec, 'step', where),
        loss: num(rec, 'loss', where),
        lr: num(rec, 'lr', where),
        gradNorm: num(rec, 'grad_norm', where),
        tokensPerSec: num(rec, 'tokens_per_sec', where),
        elapsedMs: num(rec, 'elapsed_ms', where),
      });
    } else if (rec.type === 'eval') {
      const point = { step: num(rec, 'step', where), valLoss: num(rec, 'val_loss', where) };
      if (point.step === 0) baseEval = point.valLoss;
      else evals.push(point);
    } else {
      throw new TrainLogError(`${TRAIN_LOG}: ${where}.type is ${JSON.stringify(rec.type)}, not "step" or "eval"`);
    }
  });
  const targets = lora.targetModules;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) throw new TrainLogError(`${TRAIN_LOG}: lora.targetModules is not a list of module names`);
  const str = (v: unknown, fallback: string) => (typeof v === 'string' && v ? v : fallback);
  const config: TrainConfig = {
    learningRate: num(options, 'learningRate', 'options'),
    epochs: num(options, 'epochs', 'options'),
    maxSteps: typeof options.maxSteps === 'number' ? options.maxSteps : 0,
    batchSize: num(options, 'batchSize', 'options'),
    gradAccum: num(options, 'gradAccum', 'options'),
    seed: num(options, 'seed', 'options'),
    shuffle: options.shuffle !== false,
    warmupSteps: num(options, 'warmupSteps', 'options'),
    schedule: options.schedule === 'linear' || options.schedule === 'constant' ? options.schedule : 'cosine',
    weightDecay: num(options, 'weightDecay', 'options'),
    maxGradNorm: num(options, 'maxGradNorm', 'options'),
    evalEvery: typeof options.evalEvery === 'number' ? options.evalEvery : 0,
    checkpointEvery: typeof options.checkpointEvery === 'number' ? options.checkpointEvery : 0,
    lora: { r: num(lora, 'r', 'lora'), alpha: num(lora, 'alpha', 'lora'), dropout: num(lora, 'dropout', 'lora'), useRslora: lora.useRslora === true, targetModules: targets as string[] },
    init: 'new',
    evalBase: baseEval !== null,
  };
  const report = typeof log.data_report === 'object' && log.data_report !== null ? (log.data_report as Obj) : {};
  const counts = (typeof report.counts === 'object' && report.counts !== null ? report.counts : {}) as RunRecord['data']['counts'];
  const dataName = str(log.data, 'dataset').split(/[\\/]/).pop()!;
  const dataOptions: DataOptions = { ...DEFAULT_DATA_OPTIONS, maxLength: typeof options.maxLength === 'number' ? options.maxLength : DEFAULT_DATA_OPTIONS.maxLength, seed: config.seed };
  const status = log.status === 'done' ? 'done' : log.status === 'failed' ? 'failed' : 'stopped';
  return {
    id,
    name: `Imported: ${str(log.model, model.name).split(/[\\/]/).pop()} on ${dataName} (${str(log.backend, 'elsewhere')})`,
    createdAt: now,
    updatedAt: now,
    status,
    model: { name: model.name, source: model.source, parameters: model.parameters, fingerprint: model.fingerprint },
    data: { name: dataName, options: dataOptions, counts, format: 'imported', template: (typeof log.template === 'string' ? log.template : null) as RunRecord['data']['template'] },
    config,
    backend: str(log.backend, 'imported'),
    totalSteps: typeof log.total_steps === 'number' ? log.total_steps : (points.at(-1)?.step ?? 0),
    step: points.at(-1)?.step ?? 0,
    points,
    evals,
    baseEval,
    checkpointStep: null,
    hasAdapter: true,
    ...(typeof log.error === 'string' ? { error: log.error } : {}),
  };
}
