import { defineCommand } from '../command';
import { BACKEND_ROW, HELP_ROW, KERNELS_ROW, PRECISION_ROW, helpSection } from '../shared/help';
import { BACKEND_CHOICES, KERNEL_CHOICES, PRECISION_CHOICES, type BackendChoice, type KernelChoice, PrecisionChoice } from '../shared/backend-choice';
import { DATA_OPTIONS, DATA_ROWS, parseDataArgs, type DataArgs } from '../shared/data';

export interface EvalArgs {
  model: string;
  adapter?: string;
  data: DataArgs;
  batch: number;
  backend: BackendChoice;
  kernels: KernelChoice;
  precision: PrecisionChoice;
}

export const evalCommand = defineCommand<EvalArgs>({
  name: 'eval',
  summary: 'mean masked loss and perplexity on a dataset, base and with an adapter',
  help: `Usage: weblora eval --model DIR --data FILE [--adapter DIR] [options]

Prints the mean cross-entropy over the trained tokens of all examples (the responses, by
default: the loss training reports) and its perplexity, for the base model and, with
--adapter, for the tuned one. Bad data lines are reported on stderr and skipped.

${helpSection(null, [
  ['--model DIR', 'model folder (required)'],
  ['--adapter DIR', 'PEFT LoRA adapter folder to evaluate beside the base model'],
  ['--batch N', 'examples per forward pass (default 8)'],
  BACKEND_ROW,
  KERNELS_ROW,
  PRECISION_ROW,
  HELP_ROW,
])}

${helpSection('Data', DATA_ROWS)}`,
  options: {
    model: { type: 'string' },
    adapter: { type: 'string' },
    batch: { type: 'string' },
    backend: { type: 'string' },
    kernels: { type: 'string' },
    precision: { type: 'string' },
    ...DATA_OPTIONS,
  },
  parse(f) {
    const adapter = f.string('adapter');
    return {
      model: f.required('model'),
      ...(adapter === undefined ? {} : { adapter }),
      data: parseDataArgs(f),
      batch: f.int('batch', 8, { min: 1 }),
      backend: f.choice('backend', BACKEND_CHOICES, 'auto'),
      kernels: f.choice('kernels', KERNEL_CHOICES, 'fused'),
      precision: f.choice('precision', PRECISION_CHOICES, 'fp32'),
    };
  },
  load: async () => (await import('./run')).runEval,
});
