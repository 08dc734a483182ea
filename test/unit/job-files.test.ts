// The files of an exported job for a fixed run: what each holds (formatting, loss masks,
// hyperparameters as WebLoRA used them), train.py compiles in python3, and `weblora export-job`
// writes the very bytes the engine makes for the app.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, Interrupts, type CliIO } from '../../src/cli/main';
import { exportJob } from '../../src/engine/job/export';
import type { JobFile } from '../../src/engine/job/job';
import { loadModelFromFolder } from '../../src/engine/model/source/source-folder';
import { Session } from '../../src/engine/session';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/engine/train/trainer';
import { STORIES_DIR } from '../helpers/paths';
import { python3, writeJob } from '../helpers/job-python';

const DATA = [
  JSON.stringify({ instruction: 'Write a story about a cat.', input: '', output: 'Once upon a time, a cat sat.' }),
  '{"instruction": "broken',
  JSON.stringify({ instruction: 'Continue the story.', input: 'Tom had a ball.', output: 'He threw it far.' }),
  '[1, 2]',
  JSON.stringify({ instruction: 'Say yes.', input: '', output: 'Yes.' }),
].join('\n') + '\n';

const FLAGS = ['--max-len', '64', '--val-fraction', '0.25', '--rank', '4', '--alpha', '12', '--targets', 'q_proj,k_proj', '--dropout', '0.05', '--rslora',
  '--lr', '3e-4', '--epochs', '3', '--max-steps', '5', '--batch', '2', '--grad-accum', '2', '--seed', '11', '--warmup', '1', '--schedule', 'linear',
  '--weight-decay', '0.01', '--max-grad-norm', '0.5', '--eval-every', '2', '--packing', '--checkpoint-every', '2'];

let session: Session;
let tmp: string;
let files: JobFile[];
const file = (name: string) => files.find((f) => f.name === name)!.text;

beforeAll(async () => {
  session = await Session.open(await loadModelFromFolder(STORIES_DIR));
  tmp = await mkdtemp(join(tmpdir(), 'weblora-job-files-'));
  await writeFile(join(tmp, 'fixed.jsonl'), DATA);
  files = await exportJob(session, { name: 'fixed.jsonl', source: DATA }, {
    data: { maxLength: 64, valFraction: 0.25, seed: 11 },
    lora: { r: 4, alpha: 12, dropout: 0.05, useRslora: true, targetModules: ['q_proj', 'k_proj'] },
    training: { ...DEFAULT_TRAIN_OPTIONS, learningRate: 3e-4, epochs: 3, maxSteps: 5, batchSize: 2, gradAccum: 2, seed: 11, warmupSteps: 1, schedule: 'linear', weightDecay: 0.01, maxGradNorm: 0.5, evalEvery: 2, packing: true, checkpointEvery: 2 },
    evalBase: true,
  });
});
afterAll(async () => {
  session?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

describe('an exported job', () => {
  it('has the script, the run, the data with its report, requirements, accelerate configs and a README', () => {
    expect(files.map((f) => f.name)).toEqual([
      'README.md', 'train.py', 'requirements.txt', 'job.json', 'data/dataset.jsonl', 'data/report.txt',
      'accelerate/single_gpu.yaml', 'accelerate/multi_gpu.yaml', 'accelerate/fsdp.yaml',
    ]);
  });

  it('writes the hyperparameters as WebLoRA uses them', () => {
    const job = JSON.parse(file('job.json'));
    expect(job.model).toMatchObject({ name: 'stories260K', family: 'llama', fingerprint: session.fingerprint });
    expect(job.data).toEqual({ path: 'data/dataset.jsonl', file: 'fixed.jsonl', template: 'alpaca', trainOn: 'responses', maxLength: 64, appendEos: null, valFraction: 0.25, splitSeed: 11 });
    expect(job.lora).toEqual({ r: 4, alpha: 12, dropout: 0.05, useRslora: true, targetModules: ['q_proj', 'k_proj'] });
    expect(job.training).toEqual({
      learningRate: 3e-4, epochs: 3, maxSteps: 5, batchSize: 2, gradAccum: 2, maxLength: 64, padId: session.padId, seed: 11, shuffle: true, packing: true,
      warmupSteps: 1, schedule: 'linear', weightDecay: 0.01, maxGradNorm: 0.5, evalEvery: 2, checkpointEvery: 2,
    });
    expect(job.adamw).toEqual({ beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    expect(job.evalBase).toBe(true);
    expect(job.plan).toEqual({ trainExamples: 2, valExamples: 1, stepsPerEpoch: 1, totalSteps: 3 });
  });

  it('keeps the good records with their split and source line, and reports the bad ones beside them', () => {
    const records = file('data/dataset.jsonl').trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => r.source.line)).toEqual([1, 3, 5]);
    expect(records[1].messages).toEqual([
      { role: 'user', content: 'Continue the story.', input: 'Tom had a ball.' },
      { role: 'assistant', content: 'He threw it far.' },
    ]);
    expect(records.filter((r) => r.split === 'val')).toHaveLength(1);
    const report = file('data/report.txt');
    expect(report).toContain('fixed.jsonl:2: ');
    expect(report).toContain('fixed.jsonl:4: ');
    expect(report).toMatch(/3\/5 records good/);
  });

  it("carries WebLoRA's tokens and loss mask of the first examples: Alpaca prompt untrained, answer and EOS trained", () => {
    const job = JSON.parse(file('job.json'));
    const records = file('data/dataset.jsonl').trim().split('\n').map((l) => JSON.parse(l));
    const tok = session.tokenizer;
    expect(job.token_check.length).toBe(3);
    expect(job.token_check.some((c: { input_ids: number[] }) => c.input_ids.length === 64)).toBe(true);
    for (const check of job.token_check) {
      const [user, answer] = records.find((r) => r.source.line === check.source.line).messages;
      const prompt = `### Instruction:\n${user.content}\n\n${user.input ? `### Input:\n${user.input}\n\n` : ''}### Response:\n`;
      const promptIds = tok.encode(prompt);
      // Cut to --max-len 64, as WebLoRA trains it.
      expect(check.input_ids).toEqual([...tok.encode(prompt + answer.content), tok.eosTokenId].slice(0, 64));
      expect(check.loss_mask).toEqual(check.input_ids.map((_: number, i: number) => (i >= promptIds.length ? 1 : 0)));
    }
  });

  it('pins lower bounds of its packages, and configures accelerate for one GPU, DDP and FSDP', () => {
    const req = file('requirements.txt');
    for (const p of ['torch', 'transformers', 'peft', 'accelerate', 'safetensors']) expect(req).toMatch(new RegExp(`^${p}>=\\d`, 'm'));
    expect(req).toMatch(/^# trl>=/m);
    expect(file('accelerate/single_gpu.yaml')).toMatch(/distributed_type: 'NO'/);
    expect(file('accelerate/multi_gpu.yaml')).toMatch(/distributed_type: MULTI_GPU/);
    expect(file('accelerate/fsdp.yaml')).toMatch(/distributed_type: FSDP[\s\S]*fsdp_use_orig_params: true/);
    const readme = file('README.md');
    for (const c of ['single_gpu', 'multi_gpu', 'fsdp']) expect(readme).toContain(`accelerate launch --config_file accelerate/${c}.yaml train.py`);
    expect(readme).toMatch(/train\.py --model \S+/);
    expect(readme).toContain('--dump-batches');
  });

  it.skipIf(python3() === null)('train.py compiles (python3 -m py_compile)', async () => {
    const dir = join(tmp, 'compile');
    await writeJob(dir, files);
    const scripts = files.filter((f) => f.name.endsWith('.py'));
    expect(scripts.length).toBeGreaterThan(0);
    for (const s of scripts) {
      const r = spawnSync('python3', ['-m', 'py_compile', join(dir, s.name)], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
    const help = spawnSync('python3', [join(dir, 'train.py'), '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--dump-batches');
  });

  it.skipIf(python3() === null)("train.py shares a step's micro-batches out over any number of processes: each once, the same number of passes everywhere", async () => {
    const dir = join(tmp, 'shares');
    await writeJob(dir, files);
    const code = [
      'import json, sys',
      `sys.path.insert(0, ${JSON.stringify(dir)})`,
      'import train',
      'print(json.dumps({f"{n},{w}": [[[i, wt, last] for i, wt, last in train.shares(list(range(n)), w, r)] for r in range(w)] for n in range(1, 10) for w in range(1, 9)}))',
    ].join('\n');
    const r = spawnSync('python3', ['-c', code], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const all: Record<string, Array<Array<[number, number, boolean]>>> = JSON.parse(r.stdout);
    for (const [key, ranks] of Object.entries(all)) {
      const [n, world] = key.split(',').map(Number) as [number, number];
      expect(ranks).toHaveLength(world);
      const slots = Math.ceil(n / world);
      const weightOf = new Array<number>(n).fill(0);
      for (const passes of ranks) {
        expect(passes.map(([, , last]) => last)).toEqual(Array.from({ length: slots }, (_, s) => s === slots - 1));
        for (const [i, w] of passes) weightOf[i]! += w;
      }
      // DDP/FSDP average over processes and each pass is scaled by "world": every micro-batch counts once.
      expect(weightOf, key).toEqual(new Array(n).fill(1));
    }
  });

  it('weblora export-job writes the same bytes from the same flags', async () => {
    const out = join(tmp, 'cli-job');
    let stderr = '';
    const io: CliIO = { stdout: () => {}, stderr: (t) => void (stderr += t), env: {}, interrupts: new Interrupts() };
    const code = await main(['export-job', '--model', STORIES_DIR, '--data', join(tmp, 'fixed.jsonl'), '--out', out, ...FLAGS], io);
    expect(stderr).not.toMatch(/error/);
    expect(code).toBe(0);
    const written = (await readdir(out, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(out, join(e.parentPath, e.name))).sort();
    expect(written).toEqual(files.map((f) => f.name).sort());
    for (const f of files) expect(await readFile(join(out, f.name), 'utf8')).toBe(f.text);
  });

  it('export-job --help says what it writes; weblora --help lists it', async () => {
    let stdout = '';
    const io: CliIO = { stdout: (t) => void (stdout += t), stderr: () => {}, env: {}, interrupts: new Interrupts() };
    expect(await main(['export-job', '--help'], io)).toBe(0);
    expect(stdout).toMatch(/^Usage: weblora export-job --model DIR --data FILE --out DIR/);
    expect(stdout).toMatch(/train\.py[\s\S]*accelerate[\s\S]*Not --init-adapter/);
    stdout = '';
    expect(await main(['--help'], io)).toBe(0);
    expect(stdout).toMatch(/^\s+export-job\s+write the run as a Hugging Face job/m);
  });

  it('export-job on records of no known format names the lines and suggests --columns, writing nothing', async () => {
    const odd = join(tmp, 'odd.jsonl');
    await writeFile(odd, '{"q": "a", "a": "b"}\n{"q": "c", "a": "d"}\n');
    let stderr = '';
    const io: CliIO = { stdout: () => {}, stderr: (t) => void (stderr += t), env: {}, interrupts: new Interrupts() };
    const out = join(tmp, 'odd-job');
    expect(await main(['export-job', '--model', STORIES_DIR, '--data', odd, '--out', out], io)).toBe(1);
    expect(stderr).toMatch(/odd\.jsonl:1: keys "q", "a".*--columns prompt=q,response=a/);
    expect(await readdir(out).catch(() => null)).toBeNull();
  });

  it.skipIf(python3() === null)("weblora eval --adapter takes a GPU job's output folder and says what its train_log.json logged", async () => {
    const dir = join(tmp, 'gpu-output');
    await writeJob(dir, files);
    session.newAdapter({ r: 4, alpha: 12, dropout: 0, useRslora: true, targetModules: ['q_proj', 'k_proj'] }, 3);
    const peft = await session.exportAdapter();
    await writeFile(join(dir, 'adapter_config.json'), peft.config);
    await writeFile(join(dir, 'adapter_model.safetensors'), peft.weights);
    const header = { model: 'stories260K', data: 'fixed.jsonl', backend: 'torch-cuda x2', kernels: 'transformers', template: 'alpaca', lora: {}, options: {}, total_steps: 2, data_report: {} };
    const records = [{ type: 'step', step: 1, loss: 2.5 }, { type: 'step', step: 2, loss: 2.25 }, { type: 'eval', step: 2, val_loss: 2.125, val_perplexity: 8.4 }];
    const py = spawnSync('python3', ['-c', `import json, sys; sys.path.insert(0, ${JSON.stringify(dir)}); import train; train.write_log(${JSON.stringify(dir)}, json.loads(sys.argv[1]), "done", json.loads(sys.argv[2]))`, JSON.stringify(header), JSON.stringify(records)], { encoding: 'utf8' });
    expect(py.stderr).toBe('');
    let stdout = '';
    let stderr = '';
    const io: CliIO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: {}, interrupts: new Interrupts() };
    expect(await main(['eval', '--model', STORIES_DIR, '--adapter', dir, '--data', join(tmp, 'fixed.jsonl'), '--backend', 'cpu'], io)).toBe(0);
    expect(stderr).toContain(`adapter's run (${join(dir, 'train_log.json')}): stories260K on fixed.jsonl, torch-cuda x2, done; 2 steps, last loss 2.2500, val loss 2.1250 at step 2`);
    expect(stdout).toMatch(/^base\s+loss [\d.]+.*\ntuned\s+loss [\d.]+/);
  });

  it('export-job refuses flags that do not define the run', async () => {
    let stderr = '';
    const io: CliIO = { stdout: () => {}, stderr: (t) => void (stderr += t), env: {}, interrupts: new Interrupts() };
    const code = await main(['export-job', '--model', STORIES_DIR, '--data', join(tmp, 'fixed.jsonl'), '--out', join(tmp, 'x'), '--init-adapter', tmp], io);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown option '--init-adapter'/);
  });
});
