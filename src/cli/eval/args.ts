import { BACKEND_FLAG_HELP, defineCommand } from '../command';
import { BACKEND_CHOICES, type BackendChoice } from '../shared/backend-choice';
import { DATA_HELP, DATA_OPTIONS, parseDataArgs, type DataArgs } from '../shared/data';

export interface EvalArgs {
  model: string;
  adapter?: string;
  data: DataArgs;
  batch: number;
  backend: BackendChoice;
}

export const evalCommand = defineCommand<EvalArgs>({
  name: 'eval',
  summary: 'mean masked loss and perplexity on a dataset, base and with an adapter',
  help: `Usage: weblora eval --model DIR --data FILE [--adapter DIR] [options]

Prints the mean loss over the trained tokens of every example (responses only, by default,
exactly as training counts them) and its perplexity, for the base model and, with --adapter,
for the tuned one. Bad data lines are reported on stderr and skipped.

  --model DIR            model folder                                           (required)
  --adapter DIR          PEFT LoRA adapter folder to evaluate beside the base model
  --batch N              examples per forward pass                              (default 8)
${DATA_HELP}
${BACKEND_FLAG_HELP}
  -h, --help             show this help`,
  options: {
    model: { type: 'string' },
    adapter: { type: 'string' },
    batch: { type: 'string' },
    backend: { type: 'string' },
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
    };
  },
  load: async () => (await import('./run')).runEval,
});
