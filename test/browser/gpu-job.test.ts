// Outgrowing the tab and coming back: Export → "Run on a GPU server" downloads the job that
// `weblora export-job` writes for the same run (the Train panel's own command line); an adapter
// with the train_log.json of its run (written by the job's train.py) is listed in Runs with its
// loss curve; training continues from that imported adapter with its weights.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { unzipSync } from 'fflate';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { main, Interrupts, type CliIO } from '../../src/cli/main';
import { loadModelFromFolder } from '../../src/engine/model/source/source-folder';
import { Session } from '../../src/engine/session';
import { epochBatches } from '../../src/engine/train/plan';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/engine/train/trainer';
import { screenshot, type StaticServer } from '../helpers/browser';
import { closeStoriesApp, fillField, openStoriesApp, showTab } from '../helpers/app-page';
import { DATA_DIR, STORIES_DIR } from '../helpers/paths';

const TRAIN_JSONL = join(DATA_DIR, 'story-instruct/train.jsonl');
const MAX_LEN = 72;

let app: StaticServer;
let browser: Browser;
let page: Page;
let scratch: string;
const seen: { cliJob?: string; trained?: string } = {};

const tab = (name: string) => showTab(page, name);

const fill = (label: string, value: string | number) => fillField(page, label, value);

async function cli(argv: string[]): Promise<void> {
  let stderr = '';
  const io: CliIO = { stdout: () => {}, stderr: (t) => void (stderr += t), env: {}, interrupts: new Interrupts() };
  const code = await main(argv, io);
  if (code !== 0) throw new Error(`weblora ${argv[0]} failed (${code}): ${stderr}`);
}

async function lossTable(): Promise<{ step: number; loss: number }[]> {
  const details = page.locator('figure[data-chart="loss"] details');
  if (!(await details.evaluate((d) => (d as HTMLDetailsElement).open))) await details.locator('summary').click();
  const rows = page.locator('table[aria-label="Loss data"] tbody tr');
  await rows.first().waitFor({ timeout: 10_000 });
  return rows.evaluateAll((trs) => trs.map((tr) => ({ step: Number(tr.getAttribute('data-step')), loss: Number(tr.querySelectorAll('td')[1]!.getAttribute('data-value')) })));
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'weblora-gpu-job-'));
  ({ app, browser, page } = await openStoriesApp());
}, 300_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page) await screenshot(page, `failed-gpu-job-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {});
});

afterAll(async () => {
  await closeStoriesApp({ app, browser });
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('a run as a GPU job, and back', () => {
  test('"Run on a GPU server" downloads a zip holding the files weblora export-job writes for the same run', async () => {
    await tab('Data');
    await page.getByLabel('Dataset', { exact: true }).setInputFiles(TRAIN_JSONL);
    const summary = page.locator('dl[aria-label="Dataset summary"]');
    await expect.poll(async () => (await summary.textContent().catch(() => '')) ?? '', { timeout: 60_000 }).toMatch(/Records\s*600/);
    await fill('Max length', MAX_LEN);
    await fill('Validation share (%)', 5);
    await expect.poll(async () => (await summary.textContent()) ?? '', { timeout: 30_000 }).toMatch(/Train \/ validation\s*570 \/ 30.*Dropped\s*0/);
    await tab('Train');
    await page.getByRole('radio', { name: /Quick check/ }).click();
    await fill('Max steps', 3);

    // The Train panel's own command line for this run, pointed at this machine's files.
    const command = (await page.locator('pre[aria-label="weblora train command"]').textContent())!;
    const argv = command.replace(/\\\s+/g, ' ').trim().split(/\s+/).slice(3);
    const at = (flag: string) => argv.indexOf(flag) + 1;
    argv[at('--model')] = STORIES_DIR;
    argv[at('--data')] = TRAIN_JSONL;
    argv[at('--out')] = seen.cliJob = join(scratch, 'cli-job');
    expect(argv).toContain('--max-len');
    await cli(['export-job', ...argv]);

    await tab('Export');
    const button = page.getByRole('button', { name: 'Run on a GPU server' });
    // Nothing leaves the page while the job is made: no request at all, the app's own server included.
    const requests: string[] = [];
    const onRequest = (r: { url(): string }) => void (/^(blob|data):/.test(r.url()) || requests.push(r.url()));
    page.on('request', onRequest);
    const [d] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), button.click()]);
    page.off('request', onRequest);
    expect(requests).toEqual([]);
    expect(d.suggestedFilename()).toMatch(/^stories260K-train-gpu-job\.zip$/);
    const zip = unzipSync(new Uint8Array(await readFile((await d.path())!)));
    const cliFiles = (await readdir(seen.cliJob, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(seen.cliJob!, join(e.parentPath, e.name)));
    expect(Object.keys(zip).sort()).toEqual(cliFiles.sort());
    for (const name of cliFiles) expect(new TextDecoder().decode(zip[name]), name).toBe(await readFile(join(seen.cliJob, name), 'utf8'));
    expect(JSON.parse(new TextDecoder().decode(zip['job.json'])).training).toMatchObject({ maxSteps: 3, maxLength: MAX_LEN });
  }, 600_000);

  test("an adapter with its run's train_log.json (as the job's train.py writes it) is listed in Runs with its loss curve; Compare runs it beside the base", async () => {
    const out = (seen.trained = join(scratch, 'trained'));
    await cli(['train', '--model', STORIES_DIR, '--data', TRAIN_JSONL, '--out', out, '--max-len', String(MAX_LEN), '--val-fraction', '0.05', '--max-steps', '4', '--batch', '4', '--rank', '4', '--alpha', '8', '--lr', '3e-3', '--eval-every', '2', '--backend', 'cpu']);
    // Rewritten by train.py's own writer: the log a GPU job leaves is the one imported here.
    const rewrite = spawnSync('python3', ['-c', [
      'import json, sys',
      `sys.path.insert(0, ${JSON.stringify(seen.cliJob)})`,
      'import train',
      `log = json.load(open(${JSON.stringify(join(out, 'train_log.json'))}))`,
      'records = log.pop("records")',
      'for k in ("format", "version", "status", "steps_done"): log.pop(k)',
      'log["backend"] = "torch-cuda"',
      `train.write_log(${JSON.stringify(out)}, log, "done", records)`,
    ].join('\n')], { encoding: 'utf8' });
    expect(rewrite.stderr).toBe('');
    const log = JSON.parse(await readFile(join(out, 'train_log.json'), 'utf8'));
    expect(log.backend).toBe('torch-cuda');
    const losses = log.records.filter((r: { type: string }) => r.type === 'step').map((r: { loss: number }) => r.loss);
    expect(losses).toHaveLength(4);

    await tab('Export');
    await page.getByLabel('Adapter files', { exact: true }).setInputFiles(['adapter_config.json', 'adapter_model.safetensors', 'train_log.json'].map((f) => join(out, f)));
    await page.getByText('Run imported').first().waitFor({ timeout: 60_000 });
    await tab('Runs');
    const run = page.locator('li.run', { hasText: 'Imported: stories260K on train.jsonl (torch-cuda)' });
    await run.waitFor({ timeout: 10_000 });
    expect(await run.locator('svg.sparkline polyline').count()).toBe(1);
    expect(await run.textContent()).toMatch(/step 4 of 4/);
    await tab('Train');
    const table = await lossTable();
    expect(table.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    table.forEach((p, i) => expect(p.loss).toBeCloseTo(losses[i], 6));
    await screenshot(page, 'imported-gpu-run');

    // Compare runs the imported adapter beside the base model.
    await tab('Compare');
    const select = page.getByLabel('Validation example', { exact: true });
    await select.selectOption((await select.locator('option').nth(1).getAttribute('value'))!);
    await fill('Max new tokens', 6);
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.locator('section[aria-label$="output"] .chip.done').count(), { timeout: 120_000 }).toBe(2);
    expect(((await page.locator('pre[data-output="tuned"]').textContent()) ?? '').length).toBeGreaterThan(0);
  }, 600_000);

  test("training continues from the imported adapter: the loss at step 1 is that adapter's loss on step 1's batch", async () => {
    await tab('Train');
    await page.getByLabel('Start from', { exact: true }).selectOption('current');
    await fill('Max steps', 1);
    await fill('Batch size', 4);
    await page.getByLabel('Evaluate the base model first').uncheck();
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect.poll(() => page.locator('#panel-train [data-status]').first().getAttribute('data-status'), { timeout: 300_000 }).toBe('done');
    const step1 = (await lossTable())[0]!;
    expect(step1.step).toBe(1);

    // The same batch in Node: the imported adapter's loss (no dropout), and the base model's.
    const session = await Session.open(await loadModelFromFolder(STORIES_DIR));
    try {
      const files = { config: await readFile(join(seen.trained!, 'adapter_config.json'), 'utf8'), weights: new Uint8Array(await readFile(join(seen.trained!, 'adapter_model.safetensors'))) };
      await session.importAdapter(files);
      const prepared = await session.prepareData({ name: 'train.jsonl', source: await readFile(TRAIN_JSONL, 'utf8') }, { maxLength: MAX_LEN, valFraction: 0.05, seed: 0 });
      const options = { ...DEFAULT_TRAIN_OPTIONS, batchSize: 4, maxLength: MAX_LEN, padId: session.padId, seed: 0, maxSteps: 1 };
      const batch = epochBatches(prepared.train, options, 0)[0]!;
      const examples = batch.exampleIds.map((i) => prepared.train[i]!);
      const tuned = await session.evalLoss(examples, 'tuned', 4, MAX_LEN);
      const base = await session.evalLoss(examples, 'base', 4, MAX_LEN);
      expect(step1.loss).toBeCloseTo(tuned, 3);
      expect(Math.abs(tuned - base)).toBeGreaterThan(0.01);
    } finally {
      session.dispose();
    }
  }, 600_000);
});
