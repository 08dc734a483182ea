// The weblora CLI end to end on the real stories260K model: commands run in-process through
// main(argv, io) with captured output; one run goes through bin/weblora.mjs in a child process,
// stopped with a real SIGINT, to show Ctrl-C -> checkpoint -> --resume repeats the uninterrupted run.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, Interrupts, type CliIO } from '../../src/cli/main';
import { importPeft } from '../../src/engine/lora/peft';
import { disposeAdapter } from '../../src/engine/lora/lora';
import { parseModelConfig } from '../../src/engine/model/config';
import { DATA_DIR, REPO_ROOT, STORIES_DIR } from '../helpers/paths';
import { referenceGreedy } from '../helpers/stories';

const STORY_DATA = join(DATA_DIR, 'story-instruct/train.jsonl');
// The brief's training shape; dropout on, so the resumed run must also repeat the dropout masks.
const TRAIN_FLAGS = ['--model', STORIES_DIR, '--data', STORY_DATA, '--max-steps', '4', '--batch', '4', '--max-len', '128'];
const TRAIN_FLAGS_FULL = [...TRAIN_FLAGS, '--backend', 'cpu', '--checkpoint-every', '2', '--dropout', '0.1'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(argv: string[], opts: { env?: Record<string, string>; onStdout?: (all: string, io: CliIO) => void } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: (t) => {
      stdout += t;
      opts.onStdout?.(stdout, io);
    },
    stderr: (t) => void (stderr += t),
    env: opts.env ?? {},
    interrupts: new Interrupts(),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

interface TrainLogFile {
  status: string;
  steps_done: number;
  data_report: { issues: Array<{ file: string; line: number; reason: string }>; counts: { bad: number; good: number } };
  records: Array<{ type: string; step: number; loss?: number; lr?: number; grad_norm?: number; tokens_per_sec?: number; elapsed_ms?: number; val_loss?: number }>;
}

async function readLog(out: string): Promise<TrainLogFile> {
  return JSON.parse(await readFile(join(out, 'train_log.json'), 'utf8'));
}

const stepLosses = (log: TrainLogFile) => log.records.filter((r) => r.type === 'step').map((r) => r.loss);

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'weblora-cli-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// The uninterrupted 4-step run, shared by the tests that compare against it or use its adapter.
let uninterrupted: Promise<{ out: string; run: Run }> | null = null;
function trainUninterrupted() {
  uninterrupted ??= (async () => {
    const out = join(tmp, 'uninterrupted');
    return { out, run: await cli(['train', ...TRAIN_FLAGS_FULL, '--out', out]) };
  })();
  return uninterrupted;
}

describe('command line errors', () => {
  const usage: Array<[string, string[], RegExp]> = [
    ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['unknown flag', ['train', ...TRAIN_FLAGS, '--out', 'x', '--bogus'], /unknown option '--bogus'/],
    ['missing required flag', ['generate', '--prompt', 'hi'], /missing required option --model/],
    ['missing --out', ['train', ...TRAIN_FLAGS], /missing required option --out/],
    ['bad number', ['train', ...TRAIN_FLAGS, '--out', 'x', '--lr', 'abc'], /--lr: expected a number, got 'abc'/],
    ['fractional count', ['train', ...TRAIN_FLAGS, '--out', 'x', '--batch', '2.5'], /--batch: expected a whole number/],
    ['out of range', ['train', ...TRAIN_FLAGS, '--out', 'x', '--dropout', '1'], /--dropout: must be less than 1/],
    ['bad choice', ['generate', '--model', STORIES_DIR, '--prompt', 'hi', '--backend', 'tpu'], /--backend: 'tpu' is not one of auto, webgpu, wasm, cpu/],
    ['flag without value', ['info', '--model'], /option '--model' needs a value/],
    ['stray argument', ['generate', '--model', STORIES_DIR, '--prompt', 'hi', 'there'], /unexpected argument 'there'/],
    ['sampling flag without temperature', ['generate', '--model', STORIES_DIR, '--prompt', 'hi', '--top-p', '0.9'], /--top-p only applies when sampling/],
    ['greedy and temperature', ['generate', '--model', STORIES_DIR, '--prompt', 'hi', '--greedy', '--temperature', '0.7'], /contradict/],
    ['eval-every without a split', ['train', ...TRAIN_FLAGS, '--out', 'x', '--eval-every', '2'], /--eval-every needs a validation split/],
    ['columns syntax', ['eval', '--model', STORIES_DIR, '--data', STORY_DATA, '--columns', 'prompt'], /--columns: 'prompt' is not key=column/],
    ['unknown LoRA target', ['info', '--model', STORIES_DIR, '--targets', 'qq_proj'], /--targets: unknown module 'qq_proj'/],
  ];
  it.each(usage)('%s: exit 2, one message and a pointer to --help', async (_name, argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/Run 'weblora (\w+ )?--help' for usage\.\n$/);
  });

  it('no arguments: the overview on stderr, exit 2', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Usage: weblora <command>/);
  });

  it.each(['info', 'generate', 'train', 'eval'])('%s --help prints its usage and exits 0', async (name) => {
    const r = await cli([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: weblora ${name} --model DIR`));
    expect(r.stderr).toBe('');
    // --help wins even next to a mistake.
    expect((await cli([name, '--bogus', '-h'])).code).toBe(0);
  });

  it('a runtime error exits 1 with one line; the stack only with WEBLORA_DEBUG=1', async () => {
    const missing = join(tmp, 'no-such-model');
    const r = await cli(['info', '--model', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`weblora info: error: ${missing} is not a folder\n`);
    const debug = await cli(['info', '--model', missing], { env: { WEBLORA_DEBUG: '1' } });
    expect(debug.code).toBe(1);
    expect(debug.stderr.split('\n').length).toBeGreaterThan(3);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('a dataset in no known format is answered with the --columns to give', async () => {
    const data = join(tmp, 'math.jsonl');
    await writeFile(data, '{"problem": "1 + 1", "solution": "2"}\n');
    const r = await cli(['eval', '--model', STORIES_DIR, '--data', data, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no record is usable: none has the fields of a known format \(.*\): .*math\.jsonl:1: keys "problem", "solution"\. Fix those lines, or name the columns, e\.g\. --columns prompt=problem,response=solution\n$/);
  });

  it('an empty dataset file is answered with what it is and what to do', async () => {
    const data = join(tmp, 'empty.jsonl');
    await writeFile(data, '');
    const r = await cli(['eval', '--model', STORIES_DIR, '--data', data, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').at(-2)).toBe(`weblora eval: error: ${data} is empty (0 bytes). Choose the file that holds your training data, in JSON Lines: one JSON object per line, e.g. {"instruction": "…", "output": "…"}.`);
  });
});

describe('weblora on stories260K', () => {
  it('info prints the model and its memory needs', async () => {
    const r = await cli(['info', '--model', STORIES_DIR]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^name\s+stories260K$/m);
    expect(r.stdout).toMatch(/^family\s+llama$/m);
    expect(r.stdout).toMatch(/^parameters\s+260,032 \(260K\)$/m);
    expect(r.stdout).toMatch(/^layers\s+5$/m);
    expect(r.stdout).toMatch(/^hidden size\s+64 /m);
    expect(r.stdout).toMatch(/^heads\s+8 attention, 4 key\/value/m);
    expect(r.stdout).toMatch(/^vocab size\s+512$/m);
    expect(r.stdout).toMatch(/^chat template\s+no$/m);
    expect(r.stdout).toMatch(/^weights memory\s+1015\.8 KB/m);
    expect(r.stdout).toMatch(/^training memory\s+[\d.]+ MB \(estimate\) at rank 8 on q_proj,v_proj, batch 8 x 256 tokens/m);
    // f16-base: the 521,472 bytes the frozen weights take on the GPU in halves (f16-lavapipe.test.ts).
    const half = await cli(['info', '--model', STORIES_DIR, '--precision', 'f16-base']);
    expect(half.stdout).toMatch(/^weights memory\s+509\.3 KB \(matrices float16, the rest float32\)$/m);
    expect((await cli(['info', '--model', STORIES_DIR, '--precision', 'f8'])).code).toBe(2);
  });

  it('generate --greedy streams the reference continuation of "Once upon a time"', async () => {
    const ref = await referenceGreedy();
    const chunks: string[] = [];
    let seen = '';
    const r = await cli(['generate', '--model', STORIES_DIR, '--prompt', ref.prompt, '--max-new-tokens', '20', '--greedy', '--backend', 'cpu'], {
      onStdout: (all) => {
        chunks.push(all.slice(seen.length));
        seen = all;
      },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^backend: cpu, as requested$/m);
    expect(r.stderr).toMatch(/\[20 tokens, finished by length/);
    expect(r.stdout.endsWith('\n')).toBe(true);
    const text = r.stdout.slice(0, -1);
    expect(text.length).toBeGreaterThan(40);
    // greedy_text is the decode of prompt + continuation (with the tokenizer's leading space).
    expect(ref.greedy_text.trimStart().startsWith(ref.prompt + text)).toBe(true);
    expect(chunks.length).toBeGreaterThan(5); // streamed, not printed at the end
  });

  const SLOW = 600_000; // stories260K training on the cpu backend takes seconds per step

  it('train writes a loadable PEFT adapter and a log with one record per step', async () => {
    const { out, run } = await trainUninterrupted();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.match(/^step [1-4]\/4 +epoch 1 +loss \d+\.\d{4} +lr .* tok\/s .*eta/gm)).toHaveLength(4);
    expect(run.stderr).toMatch(/train\.jsonl: jsonl, format alpaca \(detected\), 600\/600 records good/);

    const log = await readLog(out);
    expect(log.status).toBe('done');
    const steps = log.records.filter((r) => r.type === 'step');
    expect(steps.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    for (const s of steps) {
      for (const k of ['loss', 'lr', 'grad_norm', 'tokens', 'trained_tokens', 'tokens_per_sec', 'elapsed_ms', 'epoch']) {
        expect(Number.isFinite((s as Record<string, unknown>)[k]), k).toBe(true);
      }
    }
    // A finished run leaves no checkpoint to resume by mistake.
    expect(existsSync(join(out, 'checkpoint'))).toBe(false);

    const config = parseModelConfig(JSON.parse(await readFile(join(STORIES_DIR, 'config.json'), 'utf8')));
    const adapter = await importPeft(
      { config: await readFile(join(out, 'adapter_config.json'), 'utf8'), weights: new Uint8Array(await readFile(join(out, 'adapter_model.safetensors'))) },
      config,
    );
    expect(adapter.config).toMatchObject({ r: 8, alpha: 16, dropout: 0.1, targetModules: ['q_proj', 'v_proj'] });
    expect(adapter.layers.size).toBe(10);
    disposeAdapter(adapter);
  }, SLOW);

  it('eval prints mean masked loss and perplexity, base and tuned', async () => {
    const { out } = await trainUninterrupted();
    const small = join(tmp, 'eval.jsonl');
    await writeFile(small, (await readFile(STORY_DATA, 'utf8')).split('\n').slice(0, 8).join('\n'));
    const r = await cli(['eval', '--model', STORIES_DIR, '--adapter', out, '--data', small, '--max-len', '128', '--batch', '4', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    const parse = (line: string, label: string) => {
      const m = new RegExp(`^${label} +loss (\\d+\\.\\d+)  perplexity (\\d+\\.\\d+)$`).exec(line);
      expect(m, line).not.toBeNull();
      return { loss: Number(m![1]), ppl: Number(m![2]) };
    };
    const base = parse(lines[0]!, 'base');
    const tuned = parse(lines[1]!, 'tuned');
    expect(base.ppl).toBeCloseTo(Math.exp(base.loss), 1);
    expect(tuned.ppl).toBeCloseTo(Math.exp(tuned.loss), 1);
    expect(tuned.loss).not.toBe(base.loss);
  }, SLOW);

  it('bad data lines are reported by file:line and training goes on with the rest', async () => {
    const good = (await readFile(STORY_DATA, 'utf8')).split('\n').slice(0, 6);
    const file = join(tmp, 'broken.jsonl');
    await writeFile(file, [good[0], good[1], '{"instruction": "no closing brace"', good[2], '[1, 2, 3]', good[3], '{"instruction": "Tell a story.", "input": ""}', good[4], good[5]].join('\n'));
    const out = join(tmp, 'broken-out');
    const r = await cli(['train', '--model', STORIES_DIR, '--data', file, '--max-steps', '1', '--batch', '2', '--max-len', '128', '--backend', 'cpu', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/6\/9 records good/);
    expect(r.stderr).toContain(`${file}:3: `);
    expect(r.stderr).toContain(`${file}:5: `);
    expect(r.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:7: .*output`));
    expect(r.stdout).toMatch(/^step 1\/1 /m);
    const log = await readLog(out);
    expect(log.data_report.issues.map((i) => i.line)).toEqual([3, 5, 7]);
    expect(log.data_report.counts).toMatchObject({ good: 6, bad: 3 });
  }, SLOW);

  it('Ctrl-C stops at a step boundary with a checkpoint; --resume repeats the uninterrupted run exactly', async () => {
    const out = join(tmp, 'interrupted');
    // A real process and a real SIGINT, through the launcher users run.
    const child = spawn(process.execPath, ['bin/weblora.mjs', 'train', ...TRAIN_FLAGS_FULL, '--out', out], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      if (!signalled && /^step 1\/4 /m.test(stdout)) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (b: Buffer) => void (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(signalled, stderr).toBe(true);
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/interrupted: stopping after step \d to write a checkpoint/);
    expect(stderr).toMatch(/stopped at step \d of 4: checkpoint in .*Run the same command with --resume to continue/);

    const checkpoint = JSON.parse(await readFile(join(out, 'checkpoint', 'checkpoint.json'), 'utf8'));
    const stoppedAt: number = checkpoint.step;
    expect(stoppedAt).toBeGreaterThanOrEqual(1);
    expect(stoppedAt).toBeLessThan(4);
    expect(existsSync(join(out, 'checkpoint', checkpoint.tensors))).toBe(true);
    const partial = await readLog(out);
    expect(partial.status).toBe('interrupted');
    expect(partial.steps_done).toBe(stoppedAt);

    // Other settings cannot resume it, and a fresh start is refused rather than losing it.
    const mismatch = await cli(['train', ...TRAIN_FLAGS_FULL, '--out', out, '--resume', '--lr', '0.001']);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(/other settings \(options\.learningRate: 0\.0002 in the checkpoint, 0\.001 now\)/);
    const fresh = await cli(['train', ...TRAIN_FLAGS_FULL, '--out', out]);
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toMatch(/unfinished run: add --resume/);

    const resumed = await cli(['train', ...TRAIN_FLAGS_FULL, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming at step ${stoppedAt} of 4`);
    expect(resumed.stdout.match(/^step \d\/4 /gm)).toHaveLength(4 - stoppedAt);

    const reference = await trainUninterrupted();
    expect(reference.run.code).toBe(0);
    const want = stepLosses(await readLog(reference.out));
    const got = stepLosses(await readLog(out));
    expect(got).toHaveLength(4);
    expect(got).toEqual(want); // exactly, not approximately
    const [a, b] = await Promise.all([readFile(join(out, 'adapter_model.safetensors')), readFile(join(reference.out, 'adapter_model.safetensors'))]);
    expect(a.equals(b)).toBe(true);
  }, SLOW);

  it('an in-process interrupt after step 2 checkpoints exactly there', async () => {
    const out = join(tmp, 'interrupt-at-2');
    const r = await cli(['train', ...TRAIN_FLAGS_FULL, '--out', out], {
      onStdout: (all, io) => {
        if (/^step 2\/4 /m.test(all)) io.interrupts.fire();
      },
    });
    expect(r.code).toBe(130);
    expect(r.stdout.match(/^step \d\/4 /gm)).toHaveLength(2);
    const checkpoint = JSON.parse(await readFile(join(out, 'checkpoint', 'checkpoint.json'), 'utf8'));
    expect(checkpoint.step).toBe(2);
    const reference = await trainUninterrupted();
    expect(checkpoint.losses).toEqual(stepLosses(await readLog(reference.out)).slice(0, 2));
  }, SLOW);
});
