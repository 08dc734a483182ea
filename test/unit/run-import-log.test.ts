// A train_log.json as the Runs panel's record of a run trained elsewhere: the log the job's
// train.py writes (its write_log, run in python3) and the CLI's read the same, and a bad field is
// named rather than shown as a broken run.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFromTrainLog, TrainLogError } from '../../src/app/runs/import-log';
import { TRAIN_PY } from '../../src/engine/job/train-py';
import type { ModelInfo } from '../../src/worker/api';
import { python3 } from '../helpers/job-python';

const MODEL = { name: 'stories260K', source: { kind: 'files', name: 'stories260K', fileNames: [] }, parameters: 260_000, fingerprint: 'abc' } as unknown as ModelInfo;

const HEADER = {
  model: 'stories260K',
  data: 'train.jsonl',
  backend: 'torch-cuda x8',
  kernels: 'transformers',
  template: 'alpaca',
  lora: { r: 4, alpha: 8, dropout: 0, useRslora: true, targetModules: ['q_proj', 'v_proj'] },
  options: { learningRate: 0.003, epochs: 1, maxSteps: 3, batchSize: 4, gradAccum: 2, maxLength: 96, padId: 2, seed: 5, shuffle: true, packing: false, warmupSteps: 1, schedule: 'linear', weightDecay: 0.01, maxGradNorm: 1, evalEvery: 2, checkpointEvery: 0 },
  total_steps: 3,
  data_report: { counts: { records: 10, good: 10, bad: 0, examples: 10, truncated: 0, dropped: 0, train: 9, val: 1, tokens: 500, trainedTokens: 200 } },
};
const RECORDS = [
  { type: 'eval', step: 0, val_loss: 2.5, val_perplexity: Math.exp(2.5) },
  { type: 'step', step: 1, epoch: 1, loss: 2.4, lr: 0, grad_norm: 1.5, tokens: 100, trained_tokens: 40, tokens_per_sec: 9000, elapsed_ms: 12 },
  { type: 'step', step: 2, epoch: 1, loss: 2.1, lr: 0.003, grad_norm: 1.2, tokens: 100, trained_tokens: 41, tokens_per_sec: 9100, elapsed_ms: 24 },
  { type: 'eval', step: 2, val_loss: 2.2, val_perplexity: Math.exp(2.2) },
  { type: 'step', step: 3, epoch: 1, loss: 1.9, lr: 0.0015, grad_norm: 1.1, tokens: 100, trained_tokens: 39, tokens_per_sec: 9200, elapsed_ms: 36 },
];

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'weblora-import-log-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('a train_log.json as a saved run', () => {
  it.skipIf(python3() === null)("reads the log train.py's write_log writes: settings, loss curve, evaluations", async () => {
    await writeFile(join(tmp, 'train.py'), TRAIN_PY);
    const r = spawnSync('python3', ['-c', `import json, sys; sys.path.insert(0, ${JSON.stringify(tmp)}); import train; train.write_log(${JSON.stringify(tmp)}, json.loads(sys.argv[1]), "done", json.loads(sys.argv[2]))`, JSON.stringify(HEADER), JSON.stringify(RECORDS)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const text = await readFile(join(tmp, 'train_log.json'), 'utf8');
    const run = runFromTrainLog(text, MODEL, 'run-1', 1000);
    expect(run.name).toBe('Imported: stories260K on train.jsonl (torch-cuda x8)');
    expect(run.status).toBe('done');
    expect(run.points.map((p) => [p.step, p.loss, p.lr, p.gradNorm])).toEqual([[1, 2.4, 0, 1.5], [2, 2.1, 0.003, 1.2], [3, 1.9, 0.0015, 1.1]]);
    expect(run.baseEval).toBe(2.5);
    expect(run.evals).toEqual([{ step: 2, valLoss: 2.2 }]);
    expect(run.config).toMatchObject({ learningRate: 0.003, batchSize: 4, gradAccum: 2, seed: 5, warmupSteps: 1, schedule: 'linear', weightDecay: 0.01, evalEvery: 2, init: 'new', evalBase: true });
    expect(run.config.lora).toEqual(HEADER.lora);
    expect(run.data).toMatchObject({ name: 'train.jsonl', counts: { train: 9, val: 1 }, template: 'alpaca' });
    expect(run.data.options.maxLength).toBe(96);
    expect([run.step, run.totalSteps, run.hasAdapter, run.checkpointStep]).toEqual([3, 3, true, null]);
    expect(run.model.fingerprint).toBe('abc');
  });

  it("a failed run's log is listed as failed, with its reason", () => {
    const text = JSON.stringify({ format: 'weblora-train-log', version: 1, status: 'failed', error: 'training stopped at step 3: the loss is NaN', ...HEADER, records: RECORDS });
    const run = runFromTrainLog(text, MODEL, 'run-2', 0);
    expect(run.status).toBe('failed');
    expect(run.error).toBe('training stopped at step 3: the loss is NaN');
  });

  it('names what is wrong in a bad log', () => {
    const log = (patch: Record<string, unknown>) => JSON.stringify({ format: 'weblora-train-log', version: 1, status: 'done', ...HEADER, records: RECORDS, ...patch });
    const bad = (text: string) => {
      try {
        runFromTrainLog(text, MODEL, 'x', 0);
      } catch (e) {
        expect(e).toBeInstanceOf(TrainLogError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad('{')).toMatch(/train_log\.json is not JSON/);
    expect(bad(log({ format: 'other' }))).toMatch(/"format" is "other"/);
    expect(bad(log({ records: [{ type: 'step', step: 1, loss: 'x' }] }))).toMatch(/records\[0\]\.loss is not a number \("x"\)/);
    expect(bad(log({ records: [{ type: 'note' }] }))).toMatch(/records\[0\]\.type is "note"/);
    expect(bad(log({ options: { ...HEADER.options, learningRate: null } }))).toMatch(/options\.learningRate is not a number/);
    expect(bad(log({ lora: { ...HEADER.lora, targetModules: 'q_proj' } }))).toMatch(/lora\.targetModules is not a list/);
  });
});
