// The run the page is set up for, as the `weblora train` command that repeats it in a terminal
// (flags the CLI takes, defaults left out). The model and dataset stand for the files the user
// has: a hub repo id, or the name of what was loaded from disk.
import type { DataOptions, TrainConfig } from '../../worker/api';

const CLI_DEFAULTS = { lr: 2e-4, epochs: 1, batch: 8, gradAccum: 1, warmup: 0, schedule: 'cosine', weightDecay: 0, maxGradNorm: 1, seed: 0, maxLength: 256 };

function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function trainCommand(config: TrainConfig, data: DataOptions, model: string, dataset: string, out = 'runs/my-run'): string {
  const flags: [string, string | number | null][] = [
    ['--model', model],
    ['--data', dataset],
    ['--out', out],
  ];
  const add = (flag: string, value: string | number | boolean, skip: unknown = undefined) => {
    if (value === skip || value === false) return;
    flags.push([flag, value === true ? null : value]);
  };
  if (data.format !== 'auto') add('--format', data.format);
  if (data.format === 'columns' && data.columns) {
    add('--columns', Object.entries(data.columns).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(','));
  }
  add('--template', data.template, 'auto');
  add('--train-on', data.trainOn, 'responses');
  add('--max-len', data.maxLength, CLI_DEFAULTS.maxLength);
  if (data.valFraction > 0) add('--val-fraction', data.valFraction);
  if (config.init === 'current') add('--init-adapter', 'ADAPTER_DIR');
  else {
    add('--rank', config.lora.r);
    add('--alpha', config.lora.alpha);
    add('--targets', config.lora.targetModules.join(','));
    add('--dropout', config.lora.dropout, 0);
    add('--rslora', config.lora.useRslora);
  }
  add('--lr', config.learningRate, CLI_DEFAULTS.lr);
  add('--epochs', config.epochs, CLI_DEFAULTS.epochs);
  if (config.maxSteps > 0) add('--max-steps', config.maxSteps);
  add('--batch', config.batchSize, CLI_DEFAULTS.batch);
  add('--grad-accum', config.gradAccum, CLI_DEFAULTS.gradAccum);
  add('--warmup', config.warmupSteps, CLI_DEFAULTS.warmup);
  add('--schedule', config.schedule, CLI_DEFAULTS.schedule);
  add('--weight-decay', config.weightDecay, CLI_DEFAULTS.weightDecay);
  add('--max-grad-norm', config.maxGradNorm, CLI_DEFAULTS.maxGradNorm);
  if (data.valFraction > 0 && config.evalEvery > 0) add('--eval-every', config.evalEvery);
  if (config.checkpointEvery > 0) add('--checkpoint-every', config.checkpointEvery);
  add('--seed', config.seed, CLI_DEFAULTS.seed);
  add('--no-shuffle', !config.shuffle);
  return ['npx weblora train', ...flags.map(([f, v]) => (v === null ? f : `${f} ${quote(String(v))}`))].join(' \\\n    ');
}
