// An exported job's train.py makes the examples WebLoRA trains on, token for token: stories260K on
// story-instruct (and a multi-turn set), run through train.py's own formatting, masking, split
// and batching code in python3 (no torch, no transformers; see helpers/job-python.ts), against
// WebLoRA's prepared dataset, batches, learning rates and LoRA initialisation.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJob, type JobRequest } from '../../src/engine/job/export';
import { loadModelFromFolder } from '../../src/engine/model/source/source-folder';
import { Session } from '../../src/engine/session';
import { loraTensors } from '../../src/engine/lora/lora';
import { epochBatches, planRun } from '../../src/engine/train/plan';
import { effectiveWarmup, DEFAULT_TRAIN_OPTIONS } from '../../src/engine/train/trainer';
import { learningRate } from '../../src/engine/train/schedule';
import type { TokenizedExample } from '../../src/engine/data/types';
import type { DataFile } from '../../src/engine/data/load';
import { DATA_DIR, STORIES_DIR } from '../helpers/paths';
import { loadStoriesChatmlTokenizer } from '../helpers/stories-tokenizer';
import { loadDataset } from '../../src/engine/data/load';
import { prepareLoaded } from '../../src/engine/data/pipeline';
import { jobFiles } from '../../src/engine/job/job';
import { python3, runDump, tokenTable, writeJob, type DumpedExample } from '../helpers/job-python';

const HAS_PYTHON = python3() !== null;
if (!HAS_PYTHON) console.warn('job-equivalence: SKIPPED, no python3 on this machine (.ci/run installs it)');

let session: Session;
let tmp: string;
beforeAll(async () => {
  session = await Session.open(await loadModelFromFolder(STORIES_DIR));
  tmp = await mkdtemp(join(tmpdir(), 'weblora-job-eq-'));
});
afterAll(async () => {
  session?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

const MULTI_TURN = [
  { messages: [{ role: 'system', content: 'You tell short stories.' }, { role: 'user', content: 'A cat?' }, { role: 'assistant', content: 'The cat sat.' }, { role: 'user', content: 'And then?' }, { role: 'assistant', content: 'It slept in the sun all day long.' }] },
  { messages: [{ role: 'user', content: 'Say hi.' }, { role: 'assistant', content: 'Hi there, friend.' }] },
  'not json at all',
  { messages: [{ role: 'user', content: 'Tell me about a dog that runs and runs and runs.' }, { role: 'assistant', content: 'A dog ran far. '.repeat(12) }] },
  { messages: [{ role: 'user', content: 'One more?' }, { role: 'assistant', content: 'Once upon a time a bird sang.' }, { role: 'user', content: 'Why?' }, { role: 'assistant', content: 'Because it was happy.' }] },
].map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';

const strip = (e: TokenizedExample, split: string): DumpedExample => ({ source: { file: e.file, line: e.line }, split, input_ids: e.inputIds, loss_mask: e.lossMask });

async function storyFile(): Promise<DataFile> {
  return { name: 'train.jsonl', source: await readFile(join(DATA_DIR, 'story-instruct/train.jsonl'), 'utf8') };
}

interface Case {
  name: string;
  file: () => Promise<DataFile>;
  req: JobRequest;
}

const lora = { r: 4, alpha: 8, dropout: 0, useRslora: false, targetModules: ['q_proj', 'v_proj', 'down_proj'] };
const CASES: Case[] = [
  {
    name: 'story-instruct, alpaca, truncation at 48 tokens, grad accumulation, warm-up capped',
    file: storyFile,
    req: { data: { maxLength: 48, valFraction: 0.1, seed: 3 }, lora, training: { ...DEFAULT_TRAIN_OPTIONS, batchSize: 4, gradAccum: 2, seed: 3, maxSteps: 30, warmupSteps: 40, learningRate: 1e-3 }, evalBase: true },
  },
  {
    name: 'story-instruct, chatml, packed rows, linear schedule',
    file: storyFile,
    req: { data: { maxLength: 128, template: 'chatml', valFraction: 0.05, seed: 1 }, lora, training: { ...DEFAULT_TRAIN_OPTIONS, batchSize: 3, seed: 1, packing: true, epochs: 2, warmupSteps: 5, schedule: 'linear' }, evalBase: false },
  },
  {
    name: 'multi-turn with a system text and a bad line, plain template, every token trained, no shuffle',
    file: async () => ({ name: 'chats.jsonl', source: MULTI_TURN }),
    req: { data: { maxLength: 40, template: 'plain', trainOn: 'all', seed: 0 }, lora, training: { ...DEFAULT_TRAIN_OPTIONS, batchSize: 2, shuffle: false, seed: 7 }, evalBase: false },
  },
  {
    name: 'multi-turn, raw template, answers only',
    file: async () => ({ name: 'chats.jsonl', source: MULTI_TURN }),
    req: { data: { maxLength: 64, template: 'raw', seed: 0, valFraction: 0.3 }, lora, training: { ...DEFAULT_TRAIN_OPTIONS, batchSize: 2, seed: 2 }, evalBase: true },
  },
];

describe.skipIf(!HAS_PYTHON)("train.py's examples equal WebLoRA's (stories260K)", () => {
  for (const [i, c] of CASES.entries()) {
    it(c.name, async () => {
      const dir = join(tmp, `case${i}`);
      const files = await exportJob(session, await c.file(), c.req);
      await writeJob(dir, files);
      const prepared = await session.prepareData(await c.file(), c.req.data);
      const job = JSON.parse(files.find((f) => f.name === 'job.json')!.text);
      const adapter = session.newAdapter(c.req.lora, c.req.training.seed);
      const tensors = loraTensors(adapter).filter(([k]) => k.endsWith('lora_A'));
      const shapes = tensors.map(([, v]) => v.shape as [number, number]);
      const dump = await runDump(dir, await tokenTable(await c.file(), session.tokenizer, prepared.template), shapes);

      expect(dump.dropped.map((d) => `${d.file}:${d.line}: ${d.reason}`).filter((r) => r.includes('could not render'))).toEqual([]);
      expect(dump.template).toBe(prepared.template);
      expect(dump.pad_id).toBe(session.padId);
      expect(dump.train).toEqual(prepared.train.map((e) => strip(e, 'train')));
      expect(dump.val).toEqual(prepared.val.map((e) => strip(e, 'val')));
      expect(dump.dropped.map((d) => `${d.file}:${d.line}`)).toEqual(prepared.report.dropped.map((d) => `${d.file}:${d.line}`));
      expect(dump.train.length).toBeGreaterThan(0);
      expect(dump.token_check_ok).toBe(true);

      const options = { ...c.req.training, maxLength: c.req.data.maxLength, padId: session.padId };
      const plan = planRun(prepared.train, options);
      expect([dump.steps_per_epoch, dump.total_steps]).toEqual([plan.stepsPerEpoch, plan.totalSteps]);
      expect([job.plan.stepsPerEpoch, job.plan.totalSteps]).toEqual([plan.stepsPerEpoch, plan.totalSteps]);
      expect(dump.epoch0_batches).toEqual(epochBatches(prepared.train, options, 0).map((b) => ({ example_ids: b.exampleIds, seq_len: b.seqLen, trained_tokens: b.trainedTokens })));
      const warmup = effectiveWarmup(options.warmupSteps, plan.totalSteps);
      dump.learning_rates.forEach((lr, s) => expect(lr).toBeCloseTo(learningRate(s, options.learningRate, warmup, plan.totalSteps, options.schedule), 15));

      // LoRA A as WebLoRA initialises it (float32), from train.py's float64 values.
      for (const [k, [, v]] of tensors.entries()) {
        const a = (await v.data()) as Float32Array;
        expect(dump.lora_a[k]!.slice(0, 16).map(Math.fround)).toEqual([...a.slice(0, 16)]);
        expect(dump.lora_a[k]![16]).toBeCloseTo(a.reduce((s, x) => s + x, 0), 3);
      }
    });
  }

  it("chat template (ChatML, rendered by transformers.js), multi-turn: the template's own spans, no EOS appended", async () => {
    const tok = await loadStoriesChatmlTokenizer();
    const file = { name: 'chats.jsonl', source: MULTI_TURN };
    const data = { maxLength: 64, template: 'chat-template' as const, seed: 0, valFraction: 0.3 };
    const training = { ...DEFAULT_TRAIN_OPTIONS, batchSize: 2, seed: 4, maxLength: 64, padId: session.padId };
    const loaded = await loadDataset(file);
    const prepared = await prepareLoaded(loaded, tok, data);
    expect(prepared.template).toBe('chat-template');
    const files = jobFiles({ model: { name: 'stories260K-chatml', family: 'llama', fingerprint: 'x' }, loaded, prepared, data: { ...data, trainOn: 'responses' }, lora, training, evalBase: false });
    const dir = join(tmp, 'chat');
    await writeJob(dir, files);
    const dump = await runDump(dir, await tokenTable(file, tok, 'chat-template'), []);
    expect(dump.dropped.filter((d) => d.reason.includes('could not render'))).toEqual([]);
    expect(dump.train).toEqual(prepared.train.map((e) => strip(e, 'train')));
    expect(dump.val).toEqual(prepared.val.map((e) => strip(e, 'val')));
    expect(dump.dropped.map((d) => `${d.file}:${d.line}`)).toEqual(prepared.report.dropped.map((d) => `${d.file}:${d.line}`));
    expect(dump.train.length + dump.val.length).toBeGreaterThanOrEqual(3);
    expect(dump.eos_text).toBeNull();
    expect(dump.token_check_ok).toBe(true);
  });

  it('fails when train.py formats a prompt differently from WebLoRA (one changed character)', async () => {
    const dir = join(tmp, 'changed');
    const c = CASES[0]!;
    const files = await exportJob(session, await c.file(), c.req);
    await writeJob(dir, files);
    const script = join(dir, 'train.py');
    const text = await readFile(script, 'utf8');
    await writeFile(script, text.replace('"assistant_header": "### Response:\\n"', '"assistant_header": "### Response: \\n"'));
    expect(await readFile(script, 'utf8')).not.toBe(text);
    const prepared = await session.prepareData(await c.file(), c.req.data);
    const dump = await runDump(dir, await tokenTable(await c.file(), session.tokenizer, prepared.template), []);
    expect(dump.train.length).toBe(0);
    expect(dump.dropped[0]!.reason).toMatch(/WebLoRA never tokenized/);
    expect(dump.token_check_ok).toBe(false);
  });
});
