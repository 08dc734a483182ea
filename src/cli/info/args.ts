import { defineCommand } from '../command';
import { HELP_ROW, helpSection } from '../shared/help';
import { PRECISIONS, type Precision } from '../../../kernels/precision';

export interface InfoArgs {
  model: string;
  rank: number;
  /** A preset name or module names; resolved against the model when it runs. */
  targets: string[];
  batch: number;
  maxLength: number;
  precision: Precision;
}

export const infoCommand = defineCommand<InfoArgs>({
  name: 'info',
  summary: 'describe a model: size, shape, tokenizer, memory needs',
  help: `Usage: weblora info --model DIR [options]

Prints the model's name, family, parameter count, layers, hidden size, heads, vocabulary,
whether its tokenizer has a chat template, and an estimate of the memory it needs: its weights
(float32, or with --precision f16-base its matrices as float16), and LoRA training at the settings below (train's defaults unless given). Reads
config.json and the tokenizer only, so it is instant even for a large model.

${helpSection(null, [
  ['--model DIR', 'model folder: config.json, tokenizer.json, tokenizer_config.json,\nmodel.safetensors (required)'],
  ['--rank N', 'LoRA rank for the estimate (default 8)'],
  ['--targets LIST', 'modules or a preset, as for train (default q_proj,v_proj)'],
  ['--batch N', 'batch size for the estimate (default 8)'],
  ['--max-len N', 'tokens per example for the estimate (default 256)'],
  ['--precision P', 'fp32 (default) or f16-base: the frozen matrices as float16, as train\n--precision f16-base stores them'],
  HELP_ROW,
])}`,
  options: {
    model: { type: 'string' },
    rank: { type: 'string' },
    targets: { type: 'string' },
    batch: { type: 'string' },
    'max-len': { type: 'string' },
    precision: { type: 'string' },
  },
  parse: (f) => ({
    model: f.required('model'),
    rank: f.int('rank', 8, { min: 1 }),
    targets: f.list('targets') ?? ['q_proj', 'v_proj'],
    batch: f.int('batch', 8, { min: 1 }),
    maxLength: f.int('max-len', 256, { min: 2 }),
    precision: f.choice('precision', PRECISIONS, 'fp32'),
  }),
  load: async () => (await import('./run')).runInfo,
});
