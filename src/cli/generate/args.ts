import { defineCommand } from '../command';
import { BACKEND_ROW, HELP_ROW, KERNELS_ROW, PRECISION_ROW, helpSection } from '../shared/help';
import { BACKEND_CHOICES, KERNEL_CHOICES, PRECISION_CHOICES, type BackendChoice, type KernelChoice, PrecisionChoice } from '../shared/backend-choice';
import { TEMPLATE_CHOICES, type TemplateChoice } from '../shared/data';

export interface GenerateArgs {
  model: string;
  prompt: string;
  maxNewTokens: number;
  /** 0: greedy. */
  temperature: number;
  topP?: number;
  topK?: number;
  seed: number;
  repetitionPenalty: number;
  stop: string[];
  adapter?: string;
  /** 'none': the prompt is raw text to continue. */
  template: 'none' | TemplateChoice;
  backend: BackendChoice;
  kernels: KernelChoice;
  precision: PrecisionChoice;
}

export const generateCommand = defineCommand<GenerateArgs>({
  name: 'generate',
  summary: 'continue a prompt (or answer an instruction), streaming to stdout',
  help: `Usage: weblora generate --model DIR --prompt TEXT [options]

Streams the continuation to stdout as it is generated; status lines go to stderr. Decoding is
greedy unless --temperature is given. Ctrl-C ends the text early.

${helpSection(null, [
  ['--model DIR', 'model folder (required)'],
  ['--prompt TEXT', 'the text to continue; with --template, an instruction (required)'],
  ['--max-new-tokens N', 'at most N new tokens (default 128)'],
  ['--greedy', 'always the most likely token (the default)'],
  ['--temperature T', 'sample at temperature T > 0 (0: greedy)'],
  ['--top-p P', 'sample from the fewest tokens whose probabilities sum to >= P (0 < P <= 1)'],
  ['--top-k K', 'sample from the K most likely tokens (0: all)'],
  ['--seed S', 'seed of the sampler (default 0)'],
  ['--repetition-penalty R', 'R > 1 discourages tokens already in the text (default 1)'],
  ['--stop STR', 'stop when the text contains STR, cut before it; repeatable'],
  ['--adapter DIR', 'apply a PEFT LoRA adapter folder\n(adapter_config.json + adapter_model.safetensors)'],
  [
    '--template T',
    'none | auto | chat-template | alpaca | chatml | plain | raw (default none:\nthe prompt is raw text). With a template the prompt is a user instruction,\nformatted as in training (auto: the tokenizer\'s chat template, else alpaca,\nas train does)',
  ],
  BACKEND_ROW,
  KERNELS_ROW,
  PRECISION_ROW,
  HELP_ROW,
])}`,
  options: {
    model: { type: 'string' },
    prompt: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    greedy: { type: 'boolean' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    'top-k': { type: 'string' },
    seed: { type: 'string' },
    'repetition-penalty': { type: 'string' },
    stop: { type: 'string', multiple: true },
    adapter: { type: 'string' },
    template: { type: 'string' },
    backend: { type: 'string' },
    kernels: { type: 'string' },
    precision: { type: 'string' },
  },
  parse(f) {
    const temperature = f.number('temperature', 0, { min: 0 });
    if (f.bool('greedy') && temperature > 0) throw f.error('--greedy and --temperature contradict each other; choose one');
    if (temperature === 0) {
      const sampling = ['top-p', 'top-k', 'seed'].filter((n) => f.has(n));
      if (sampling.length) throw f.error(`--${sampling[0]} only applies when sampling: add --temperature T (e.g. 0.8)`);
    }
    const topP = f.number('top-p', undefined, { above: 0, max: 1 });
    const topK = f.int('top-k', undefined, { min: 0 });
    const adapter = f.string('adapter');
    return {
      model: f.required('model'),
      prompt: f.required('prompt'),
      maxNewTokens: f.int('max-new-tokens', 128, { min: 1 }),
      temperature,
      ...(topP === undefined ? {} : { topP }),
      ...(topK === undefined ? {} : { topK }),
      seed: f.int('seed', 0),
      repetitionPenalty: f.number('repetition-penalty', 1, { above: 0 }),
      stop: f.strings('stop').filter((s) => s !== ''),
      ...(adapter === undefined ? {} : { adapter }),
      template: f.choice('template', ['none', ...TEMPLATE_CHOICES] as const, 'none'),
      backend: f.choice('backend', BACKEND_CHOICES, 'auto'),
      kernels: f.choice('kernels', KERNEL_CHOICES, 'fused'),
      precision: f.choice('precision', PRECISION_CHOICES, 'fp32'),
    };
  },
  load: async () => (await import('./run')).runGenerate,
});
