// README.md of an exported job: what is in the folder and the exact commands.
import type { JobDefinition } from './job';

/** A bigger model of the same family, for the --model example (any of the family will do). */
const BIGGER: Record<string, string> = {
  llama: 'meta-llama/Llama-3.1-8B-Instruct',
  qwen2: 'Qwen/Qwen2.5-7B-Instruct',
  qwen3: 'Qwen/Qwen3-8B',
  gemma3: 'google/gemma-3-1b-it',
};

export function jobReadme(job: JobDefinition): string {
  const t = job.training;
  const l = job.lora;
  const bigger = BIGGER[job.model.family] ?? `<a bigger ${job.model.family} model>`;
  const steps = `${job.plan.totalSteps} optimizer steps (${job.plan.stepsPerEpoch} per epoch)`;
  return `# WebLoRA job: ${job.model.name} on ${job.data.file}

The LoRA run WebLoRA set up, as a Hugging Face job (transformers + peft, launched by
accelerate) for GPU servers. Nothing was uploaded anywhere: everything is in this folder.

| file | what it is |
|---|---|
| \`train.py\` | the run: WebLoRA's formatting, loss mask, batches, LoRA init, AdamW, schedule and loss |
| \`job.json\` | the run's definition (model, data options, LoRA, training options) |
| \`${job.data.path}\` | the dataset as WebLoRA read it: ${job.plan.trainExamples} training and ${job.plan.valExamples} validation examples' records, one JSON line each (\`messages\`, or \`text\`), with their split and source line |
| \`data/report.txt\` | WebLoRA's data report: counts and every bad line (\`file:line: reason\`), skipped |
| \`requirements.txt\` | the Python packages (lower bounds) |
| \`accelerate/*.yaml\` | launch configs: one GPU, several GPUs (DDP), sharded (FSDP) |

## The run

- model \`${job.model.name}\` (${job.model.family}); template \`${job.data.template}\`; loss on ${job.data.trainOn === 'all' ? 'every token' : 'the answers only (EOS appended)'}; ${job.data.maxLength} tokens per example${t.packing ? ', packed' : ''}
- LoRA r=${l.r}, alpha=${l.alpha}${l.useRslora ? ' (rsLoRA)' : ''}, dropout ${l.dropout}, on ${l.targetModules.join(', ')}
- AdamW lr ${t.learningRate}, betas (${job.adamw.beta1}, ${job.adamw.beta2}), eps ${job.adamw.eps}, weight decay ${t.weightDecay}; ${t.warmupSteps} warm-up steps, then ${t.schedule}; clipping at ${t.maxGradNorm > 0 ? t.maxGradNorm : 'none'}
- ${t.batchSize} examples per micro-batch × ${t.gradAccum} micro-batch${t.gradAccum === 1 ? '' : 'es'} per step; ${t.epochs} epoch${t.epochs === 1 ? '' : 's'}${t.maxSteps ? `, at most ${t.maxSteps} steps` : ''}: ${steps}; seed ${t.seed}
- the loss of a step is Σ token losses / Σ trained tokens over its micro-batches, on any number of GPUs

## Run it

\`\`\`sh
python -m venv .venv && . .venv/bin/activate
pip install -r requirements.txt

# one GPU
accelerate launch --config_file accelerate/single_gpu.yaml train.py

# every GPU of this machine (set num_processes in the file to their number)
accelerate launch --config_file accelerate/multi_gpu.yaml train.py

# weights sharded over the GPUs, for models that do not fit one
accelerate launch --config_file accelerate/fsdp.yaml train.py --dtype bfloat16
\`\`\`

The adapter (\`adapter_config.json\`, \`adapter_model.safetensors\`, PEFT format) and
\`train_log.json\` (WebLoRA's log format: one record per step and per evaluation) are written
to \`output/\` (\`--out DIR\` to change it). Load both in WebLoRA: Export → Import an adapter,
with \`train_log.json\` among the files; the run then shows in Runs with its loss curve, and
Compare runs it against the base model.

## A bigger model of the same family

\`\`\`sh
accelerate launch --config_file accelerate/fsdp.yaml train.py --model ${bigger} --dtype bfloat16
\`\`\`

\`--model\` takes a hub id or a folder. The same records, template, loss mask and settings
apply; the examples are tokenised again by that model's tokenizer (the same code path), so
lengths and the number of steps can differ. train.py first checks that its tokenizer gives the
tokens WebLoRA trained on (the first examples' ids are in job.json): without \`--model\` it stops
if not, with \`--model\` it says so. When the job's model was loaded from a folder rather than
the hub, \`${job.model.name}\` is only its name: give the folder, \`--model path/to/${job.model.name}\`.

## Checking it

\`\`\`sh
python train.py --dump-batches batches.json   # tokens, loss masks, first epoch's batches: needs transformers, not torch or a GPU
\`\`\`

With \`--dtype float32\` (the default), no LoRA dropout and the job's model, the per-step losses
match WebLoRA's to about 1e-3. LoRA dropout draws other masks than WebLoRA's (the rate is the
same). \`--resume\` continues from \`output/checkpoint\`, written every \`training.checkpointEvery\`
steps of job.json (0: never) with accelerate's save_state: the model, optimizer and random
states (base weights included, so mind the disk for big models), the step and the log so far.
`;
}
