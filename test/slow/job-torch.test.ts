// The exported job's train.py for real, where torch, transformers, peft and accelerate are
// importable (not on the project's CI machines: there this file says SKIPPED and why): 20 steps
// on stories260K give WebLoRA's per-step losses within 1e-3, and the adapter it writes loads back
// into WebLoRA with the validation loss its train_log.json reports.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, Interrupts, type CliIO } from '../../src/cli/main';
import { loadModelFromFolder } from '../../src/engine/model/source/source-folder';
import { Session } from '../../src/engine/session';
import { DATA_DIR, STORIES_DIR } from '../helpers/paths';

const probe = spawnSync('python3', ['-c', 'import torch, transformers, peft, accelerate; print(torch.__version__, transformers.__version__, peft.__version__)'], { encoding: 'utf8' });
const HAS_TORCH = probe.status === 0;
if (!HAS_TORCH) console.warn(`job-torch: SKIPPED: python3 cannot import torch, transformers, peft and accelerate (${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()})`);

const DATA = join(DATA_DIR, 'story-instruct/train.jsonl');
const FLAGS = ['--model', STORIES_DIR, '--data', DATA, '--max-len', '96', '--val-fraction', '0.05', '--max-steps', '20', '--batch', '4', '--grad-accum', '2', '--lr', '3e-3', '--warmup', '2', '--rank', '4', '--alpha', '8', '--targets', 'all-linear', '--eval-every', '10'];

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'weblora-job-torch-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function cli(argv: string[]): Promise<void> {
  let stderr = '';
  const io: CliIO = { stdout: () => {}, stderr: (t) => void (stderr += t), env: {}, interrupts: new Interrupts() };
  if ((await main(argv, io)) !== 0) throw new Error(stderr);
}

type Log = { records: Array<{ type: string; step: number; loss?: number; val_loss?: number }> };
const readLog = async (dir: string): Promise<Log> => JSON.parse(await readFile(join(dir, 'train_log.json'), 'utf8'));

describe.skipIf(!HAS_TORCH)("the job's train.py with torch", () => {
  it('repeats WebLoRA\'s 20 step losses within 1e-3, and its adapter loads back', async () => {
    const web = join(tmp, 'weblora');
    const job = join(tmp, 'job');
    await cli(['train', ...FLAGS, '--out', web, '--backend', 'cpu']);
    await cli(['export-job', ...FLAGS, '--out', job]);
    const out = join(tmp, 'torch-out');
    const r = spawnSync('python3', [join(job, 'train.py'), '--model', STORIES_DIR, '--out', out, '--attn', 'eager'], { encoding: 'utf8', timeout: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    // The job's own model, from its folder: train.py checked it makes WebLoRA's tokens.
    expect(r.stdout + r.stderr).toContain("the first examples are WebLoRA's, token for token");
    const steps = (l: Log) => l.records.filter((x) => x.type === 'step').map((x) => x.loss!);
    const [ours, theirs] = [steps(await readLog(web)), steps(await readLog(out))];
    expect(theirs).toHaveLength(20);
    theirs.forEach((loss, i) => expect(Math.abs(loss - ours[i]!), `step ${i + 1}`).toBeLessThan(1e-3));

    const session = await Session.open(await loadModelFromFolder(STORIES_DIR));
    try {
      await session.importAdapter({ config: await readFile(join(out, 'adapter_config.json'), 'utf8'), weights: new Uint8Array(await readFile(join(out, 'adapter_model.safetensors'))) });
      const prepared = await session.prepareData({ name: 'train.jsonl', source: await readFile(DATA, 'utf8') }, { maxLength: 96, valFraction: 0.05, seed: 0 });
      const val = await session.evalLoss(prepared.val, 'tuned', 4, 96);
      const last = (await readLog(out)).records.filter((x) => x.type === 'eval').at(-1)!;
      expect(last.step).toBe(20);
      expect(Math.abs(val - last.val_loss!)).toBeLessThan(1e-3);
    } finally {
      session.dispose();
    }
  });
});
