import { defineCommand, type CommandDefinition } from '../command';
import type { OptionSpec } from '../shared/flags';
import { HELP_ROW, helpSection } from '../shared/help';
import { TRAIN, type TrainArgs } from '../train/args';

/** Train's flags that say how or where this machine trains, not what the run is. */
const NOT_FOR_A_JOB = ['backend', 'kernels', 'precision', 'resume', 'resume-from', 'keep-checkpoints', 'init-adapter'];

const options: OptionSpec = Object.fromEntries(Object.entries(TRAIN.options).filter(([name]) => !NOT_FOR_A_JOB.includes(name)));
const RUN_FLAGS = Object.keys(options).filter((name) => name !== 'model' && name !== 'out').map((name) => `--${name}`);

function wrap(text: string, indent: number, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].map((l) => ' '.repeat(indent) + l).join('\n');
}

const EXPORT_JOB: CommandDefinition<TrainArgs> = {
  name: 'export-job',
  summary: 'write the run as a Hugging Face job (transformers + peft + accelerate) for GPU servers',
  help: `Usage: weblora export-job --model DIR --data FILE --out DIR [train's data, LoRA and training flags]

Writes to --out the run that 'weblora train' would make with the same flags, as a job for GPU
servers: train.py (transformers + peft, launched with accelerate), job.json (the run),
data/dataset.jsonl (the good records as WebLoRA read them, with their split), data/report.txt
(every bad line), requirements.txt, accelerate configs for one GPU, DDP and FSDP, and a
README.md with the commands. train.py reproduces WebLoRA's formatting, loss mask, batches, LoRA
init, AdamW, schedule and loss, and writes a PEFT adapter and train_log.json. Nothing is
uploaded; the model is read for its tokenizer only.

${helpSection(null, [
  ['--model DIR', 'model folder (required): its tokenizer makes the split and the report'],
  ['--out DIR', 'the job folder, created if missing (required)'],
  HELP_ROW,
])}

  Every data, LoRA and training flag of 'weblora train' applies (see weblora train --help):
${wrap(RUN_FLAGS.join(', '), 2, 92)}.
  Not --init-adapter: a job starts a new adapter.`,
  options,
  parse: (f) => TRAIN.parse(f),
  load: async () => (await import('./run')).runExportJob,
};

export const exportJobCommand = defineCommand(EXPORT_JOB);
