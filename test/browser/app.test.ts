// The built web app in headless Chromium with real WebGPU (SwiftShader), driven like a person
// would: by the accessible names of its controls. One page goes through the whole story —
// model from a hub-layout server and from dropped files, a dataset, 20 training steps, compare,
// export, import, a dataset with broken lines, a reload with an interrupted run resumed, and a
// forced backend. Screenshots of every panel land in test-results/screenshots.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import type { Browser, BrowserContext, Download, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { buildApp, DOWNLOADS, launchBrowser, openPage, screenshot, serveStatic, type PageLog, type StaticServer } from '../helpers/browser';
import { startHubServer, type HubServer } from '../helpers/hub-server';
import { DATA_DIR, STORIES_DIR } from '../helpers/paths';

const REPO = 'test-org/stories260K';
const TRAIN_JSONL = join(DATA_DIR, 'story-instruct/train.jsonl');

let app: StaticServer;
let hub: HubServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let log: PageLog;
let scratch: string;

/** What earlier tests found out, for later ones. */
const seen: { tunedText?: string; valPick?: string; adapterConfig?: Buffer; adapterWeights?: Buffer; firstRunName?: string } = {};

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

async function tab(name: string): Promise<void> {
  await page.getByRole('tab', { name: new RegExp(`^(\\d|✓|↻)?\\s*${name}`) }).click();
  await expect.poll(() => page.locator(`#panel-${name.toLowerCase()}`).isVisible()).toBe(true);
}

async function saveDownload(d: Download, name = d.suggestedFilename()): Promise<Buffer> {
  const bytes = await readFile((await d.path())!);
  await mkdir(DOWNLOADS, { recursive: true });
  await writeFile(join(DOWNLOADS, name), bytes);
  return bytes;
}

async function download(click: () => Promise<void>): Promise<{ name: string; bytes: Buffer }> {
  const [d] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), click()]);
  return { name: d.suggestedFilename(), bytes: await saveDownload(d) };
}

async function fill(label: string, value: string | number): Promise<void> {
  const input = page.getByLabel(label, { exact: true });
  await input.fill(String(value));
  await input.blur();
}

/** Values of the loss chart's data table, as the page shows them to a screen reader. */
async function lossTable(): Promise<{ step: number; loss: number }[]> {
  const details = page.locator('figure[data-chart="loss"] details');
  if (!(await details.evaluate((d) => (d as HTMLDetailsElement).open))) await details.locator('summary').click();
  const rows = page.locator('table[aria-label="Loss data"] tbody tr');
  // Opening the table renders its rows on the next frame: wait for them before reading.
  await rows.first().waitFor({ timeout: 10_000 });
  return rows.evaluateAll((trs) =>
    trs.map((tr) => ({ step: Number(tr.getAttribute('data-step')), loss: Number(tr.querySelectorAll('td')[1]!.getAttribute('data-value')) })),
  );
}

/** Clicks "Start training" and waits until the run has really started. */
async function startTraining(): Promise<void> {
  await page.getByRole('button', { name: 'Start training' }).click();
  await page.locator('#panel-train [data-status="starting"], #panel-train [data-status="running"]').first().waitFor({ timeout: 30_000 });
}

async function waitForStatus(status: string, timeout: number): Promise<void> {
  await page.locator(`#panel-train [data-status="${status}"]`).waitFor({ timeout });
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'weblora-browser-'));
  const dist = await buildApp();
  app = await serveStatic(dist);
  hub = await startHubServer({ [REPO]: STORIES_DIR });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1360, height: 900 }, acceptDownloads: true });
  // Automatic choice would take WebAssembly over SwiftShader (first-run.test.ts): ask for WebGPU.
  ({ page, log } = await openPage(context, `${app.url}?backend=webgpu`));
}, 180_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page) await screenshot(page, `failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {});
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await hub?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('WebLoRA web app', () => {
  test('starts the engine on WebGPU (SwiftShader, as asked) and says it is a slow software GPU; the build serves from a sub-path', async () => {
    const badge = page.getByRole('button', { name: /^Backend:/ });
    await expect.poll(() => badge.getAttribute('data-backend'), { timeout: 60_000 }).toBe('webgpu');
    expect(await badge.getAttribute('data-architecture')).toBe('swiftshader');
    // The hot loop runs WebLoRA's fused WGSL kernels unless the user picks stock ops.
    expect(await badge.getAttribute('data-kernels')).toBe('fused');
    expect(await badge.textContent()).toMatch(/WebGPU.*swiftshader.*software GPU/);
    expect(await badge.getAttribute('data-tone')).toBe('warn');
    const arch = await page.evaluate(async () => (await navigator.gpu.requestAdapter())?.info.architecture);
    expect(arch).toBe('swiftshader');
    // The worker is an ES module chunk beside the page, fetched relative to it.
    expect(app.requests.some((r) => /^\/weblora\/assets\/training\.worker-[\w-]+\.js$/.test(r))).toBe(true);
    // transformers.js's ONNX runtime is stubbed out, not shipped.
    expect(app.requests.some((r) => /ort-wasm|onnx/i.test(r))).toBe(false);
    await badge.click();
    await page.getByRole('dialog', { name: 'Backend settings' }).waitFor();
    await screenshot(page, 'backend');
    await page.keyboard.press('Escape');
    await screenshot(page, 'model-empty');
  }, 120000);

  test('loads stories260K from dropped files ("Model files")', async () => {
    await page.getByLabel('Model files', { exact: true }).setInputFiles(STORIES_DIR);
    const summary = page.locator('#panel-model dl[aria-label="Model summary"]');
    await summary.waitFor({ timeout: 60_000 });
    await expect.poll(() => page.locator('#panel-model h2', { hasText: /^stories260K$/ }).count()).toBe(1);
    const text = await summary.textContent();
    expect(text).toContain('llama');
    expect(text).toContain('260K');
    expect(text).toMatch(/Layers\s*5/);
    expect(text).toMatch(/Vocabulary\s*512/);
    expect(await page.locator('#panel-model').textContent()).toContain('From files on this computer');
  }, 120000);

  test('loads stories260K from a hub-layout server with per-file and overall progress; a second load needs no network', async () => {
    hub.faults.chunkDelayMs = 40;
    await page.getByText('Hub settings').click();
    await fill('Hub host', hub.url);
    await fill('Repo id', REPO);
    await page.getByRole('button', { name: 'Load from hub' }).click();
    await page.getByRole('progressbar', { name: 'Overall' }).waitFor({ timeout: 30_000 });
    await page.getByRole('progressbar', { name: 'model.safetensors' }).waitFor({ timeout: 30_000 });
    await screenshot(page, 'model-downloading');
    await expect.poll(() => page.locator('#panel-model h2', { hasText: REPO }).count(), { timeout: 60_000 }).toBe(1);
    hub.faults.chunkDelayMs = 0;
    expect(hub.requests.some((r) => r.file === 'model.safetensors' && r.method === 'GET')).toBe(true);
    const before = hub.requests.length;
    await page.getByRole('button', { name: 'Load from hub' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Load from hub' }).isEnabled(), { timeout: 30_000 }).toBe(true);
    await expect.poll(() => page.locator('#panel-model h2', { hasText: REPO }).count()).toBe(1);
    expect(hub.requests.slice(before)).toEqual([]);
    await screenshot(page, 'model');

    // A repo that is not there: a clear error, and the loaded model stays.
    await fill('Repo id', 'test-org/missing');
    await page.getByRole('button', { name: 'Load from hub' }).click();
    const alert = page.locator('#panel-model [role="alert"]');
    await alert.waitFor({ timeout: 30_000 });
    expect(await alert.textContent()).toMatch(/test-org\/missing.*(no file|not there|repo id)/s);
    await screenshot(page, 'model-error');
    expect(await page.locator('#panel-model h2', { hasText: REPO }).count()).toBe(1);
    await alert.getByRole('button', { name: 'Dismiss' }).click();
    await fill('Repo id', REPO);
  }, 120000);

  test('drops the story-instruct dataset on "Dataset": format, counts, preview with trained tokens, histogram', async () => {
    await tab('Data');
    const summary = page.locator('dl[aria-label="Dataset summary"]');
    // The sample dataset the app ships, served beside the page.
    await page.getByRole('button', { name: 'Try the sample dataset' }).click();
    await expect.poll(async () => (await summary.textContent().catch(() => '')) ?? '', { timeout: 60_000 }).toMatch(/Records\s*60Good\s*60Bad lines\s*0/);
    expect(app.requests).toContain('/weblora/sample-instruct.jsonl');

    await page.getByLabel('Dataset', { exact: true }).setInputFiles(TRAIN_JSONL);
    await expect.poll(async () => (await summary.textContent().catch(() => '')) ?? '', { timeout: 60_000 }).toMatch(/Records\s*600/);
    expect(await summary.textContent()).toMatch(/Bad lines\s*0/);
    expect(await page.locator('#panel-data').textContent()).toContain('Detected: Alpaca');
    expect(await page.locator('.tok.trained').count()).toBeGreaterThan(10);
    expect(await page.locator('.tok.masked').count()).toBeGreaterThan(10);
    await page.getByRole('img', { name: /Token length histogram: 600 examples/ }).waitFor();
    // Short examples (prompt and the start of the answer) and a small validation split keep
    // SwiftShader training quick.
    await fill('Max length', 72);
    await fill('Validation share (%)', 1);
    await expect.poll(async () => (await summary.textContent()) ?? '', { timeout: 30_000 }).toMatch(/Train \/ validation\s*594 \/ 6/);
    expect(await summary.textContent()).toMatch(/Truncated\s*600/);
    expect(await summary.textContent()).toMatch(/Dropped\s*0/);
    await screenshot(page, 'data');
  }, 120000);

  test('trains 20 steps on WebGPU: 20 points on the loss chart, the last loss below the first, the page responsive', async () => {
    await tab('Train');
    await page.getByRole('radio', { name: /Quick check/ }).click();
    await fill('Max steps', 20);
    await fill('Batch size', 2);
    await fill('Learning rate', 0.003);
    await fill('Warmup steps', 0);
    await fill('Eval every (steps)', 10);
    await fill('Checkpoint every (steps)', 5);
    await expect.poll(() => page.locator('dl[aria-label="Training plan"]').textContent(), { timeout: 20_000 }).toMatch(/Steps\s*20/);
    await startTraining();
    await waitForStatus('running', 60_000);
    await expect.poll(async () => (await lossTable()).length, { timeout: 120_000, interval: 250 }).toBeGreaterThanOrEqual(2);

    // A click on another panel while a step runs is handled (the panel shows) within 200 ms.
    await page.evaluate(() => {
      const w = window as unknown as { tabLatency: { ms: number; shown: boolean }[] };
      w.tabLatency = [];
      document.addEventListener(
        'click',
        (e) => {
          const t = (e.target as Element).closest('[role="tab"]');
          if (!t) return;
          const started = e.timeStamp;
          const panel = document.getElementById(t.getAttribute('aria-controls')!)!;
          requestAnimationFrame(() => w.tabLatency.push({ ms: performance.now() - started, shown: !panel.hidden }));
        },
        true,
      );
    });
    for (const name of ['Compare', 'Data', 'Runs', 'Train']) {
      await page.getByRole('tab', { name: new RegExp(name) }).click();
      await page.waitForTimeout(150);
    }
    const latency = (await page.evaluate(() => (window as unknown as { tabLatency: { ms: number; shown: boolean }[] }).tabLatency)) ?? [];
    const during = await lossTable();
    console.log(`tab switch latency during training: ${latency.map((l) => l.ms.toFixed(1)).join(', ')} ms`);
    expect(latency).toHaveLength(4);
    expect(latency.every((l) => l.shown)).toBe(true);
    expect(Math.max(...latency.map((l) => l.ms))).toBeLessThan(200);
    expect(during.length).toBeLessThan(20); // the clicks happened while training ran

    await waitForStatus('done', 300_000);
    console.log((await page.locator('ol[aria-label="Step log"]').textContent())?.replace(/(step \d+\/)/g, '\n$1'));
    const figure = page.locator('figure[data-chart="loss"]');
    expect(await figure.getAttribute('data-points')).toBe('20');
    const points = await lossTable();
    expect(points.map((p) => p.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(points.every((p) => Number.isFinite(p.loss))).toBe(true);
    console.log(`losses: ${points.map((p) => p.loss.toFixed(3)).join(' ')}`);
    expect(points[19]!.loss).toBeLessThan(points[0]!.loss);
    expect(await page.getByRole('button', { name: /^Backend:/ }).getAttribute('data-backend')).toBe('webgpu');
    const status = await page.locator('dl[aria-label="Run status"]').textContent();
    expect(status).toMatch(/Validation loss\s*\d/);
    expect(status).toMatch(/Checkpoint\s*step 15/);
    await screenshot(page, 'train');
  }, 420000);

  test('compares base and tuned side by side, streamed token by token, as text', async () => {
    await tab('Compare');
    const select = page.getByLabel('Validation example', { exact: true });
    const first = await select.locator('option').nth(1).getAttribute('value');
    await select.selectOption(first!);
    seen.valPick = first!;
    await fill('Max new tokens', 10);
    // Count the updates each output box receives: streaming means many small ones.
    await page.evaluate(() => {
      const w = window as unknown as { updates: Record<string, number> };
      w.updates = { base: 0, tuned: 0 };
      for (const which of ['base', 'tuned']) {
        const el = document.querySelector(`pre[data-output="${which}"]`)!;
        new MutationObserver((m) => (w.updates[which]! += m.length)).observe(el, { childList: true, characterData: true, subtree: true });
      }
    });
    await page.getByRole('button', { name: 'Generate' }).click();
    const base = page.locator('pre[data-output="base"]');
    const tuned = page.locator('pre[data-output="tuned"]');
    await expect.poll(() => page.locator('section[aria-label$="output"] .chip.done').count(), { timeout: 120_000 }).toBe(2);
    const baseText = (await base.textContent()) ?? '';
    const tunedText = (await tuned.textContent()) ?? '';
    expect(baseText.length).toBeGreaterThan(0);
    expect(tunedText.length).toBeGreaterThan(0);
    const updates = await page.evaluate(() => (window as unknown as { updates: Record<string, number> }).updates);
    expect(updates.base).toBeGreaterThan(3);
    expect(updates.tuned).toBeGreaterThan(3);
    // Model output is text: no element besides the caret ever appears inside an output.
    expect(await page.locator('pre.generation > :not(.caret)').count()).toBe(0);
    seen.tunedText = tunedText;
    console.log(`base: ${JSON.stringify(baseText)}\ntuned: ${JSON.stringify(tunedText)}`);

    // A typed instruction with a name that is not in the dataset, wrapped in the training template.
    await fill('Prompt', 'Write a story about a cat named <b>Zed</b>.');
    await fill('Max new tokens', 4);
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.locator('section[aria-label$="output"] .chip.done').count(), { timeout: 120_000 }).toBe(2);
    expect(await page.locator('pre.generation b').count()).toBe(0);

    // Batch mode over (part of) the validation split: both losses and both outputs per example.
    await fill('Examples', 2);
    await fill('Max new tokens', 4);
    await page.getByRole('button', { name: 'Run batch comparison' }).click();
    const rows = page.locator('table[aria-label="Batch comparison"] tbody tr');
    await expect.poll(() => rows.count(), { timeout: 120_000 }).toBe(2);
    await expect.poll(() => page.locator('.batch-summary').count(), { timeout: 60_000 }).toBe(1);
    expect(await page.locator('.batch-summary').textContent()).toMatch(/base \d+\.\d+.*tuned \d+\.\d+/);
    await screenshot(page, 'compare');
  }, 300000);

  test('exports the adapter: the zip and the separate files are byte-identical to the engine’s export', async () => {
    await tab('Export');
    const zip = await download(() => page.getByRole('button', { name: 'Export adapter', exact: true }).click());
    expect(zip.name).toMatch(/\.zip$/);
    const config = await download(() => page.getByRole('button', { name: 'adapter_config.json' }).click());
    const weights = await download(() => page.getByRole('button', { name: 'adapter_model.safetensors' }).click());
    expect(config.name).toBe('adapter_config.json');
    expect(weights.name).toBe('adapter_model.safetensors');
    const entries = unzipSync(new Uint8Array(zip.bytes));
    expect(Buffer.from(entries['adapter_config.json']!)).toEqual(config.bytes);
    expect(Buffer.from(entries['adapter_model.safetensors']!)).toEqual(weights.bytes);
    // The checksums the worker computed over the bytes the engine wrote.
    expect(await page.locator('code[data-file="adapter_config.json"]').textContent()).toBe(sha256(config.bytes));
    expect(await page.locator('code[data-file="adapter_model.safetensors"]').textContent()).toBe(sha256(weights.bytes));
    // The adapter saved with the run at the end of training (IndexedDB) is the same too.
    const stored = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const r = indexedDB.open('weblora');
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const read = <T,>(store: string, key?: IDBValidKey) =>
        new Promise<T>((res, rej) => {
          const r = key === undefined ? db.transaction(store).objectStore(store).getAll() : db.transaction(store).objectStore(store).get(key);
          r.onsuccess = () => res(r.result as T);
          r.onerror = () => rej(r.error);
        });
      const runs = await read<{ id: string; name: string; createdAt: number }[]>('runs');
      const run = runs.sort((a, b) => a.createdAt - b.createdAt)[0]!;
      const a = await read<{ config: string; weights: Uint8Array }>('adapters', run.id);
      const hex = async (b: BufferSource) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', b))].map((x) => x.toString(16).padStart(2, '0')).join('');
      return { name: run.name, config: await hex(new TextEncoder().encode(a.config)), weights: await hex(a.weights as Uint8Array<ArrayBuffer>) };
    });
    expect(stored.config).toBe(sha256(config.bytes));
    expect(stored.weights).toBe(sha256(weights.bytes));
    seen.firstRunName = stored.name;

    const peft = JSON.parse(config.bytes.toString('utf8'));
    expect(peft).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, base_model_name_or_path: REPO });
    expect(weights.bytes.readUInt32LE(4)).toBe(0); // 8-byte little-endian header length
    seen.adapterConfig = config.bytes;
    seen.adapterWeights = weights.bytes;

    const training = await download(() => page.getByRole('button', { name: 'Training config (JSON)' }).click());
    const cfg = JSON.parse(training.bytes.toString('utf8'));
    expect(cfg.base_model).toBe(REPO);
    expect(cfg.training.maxSteps).toBe(20);
    expect(cfg.losses).toHaveLength(20);

    const merged = await download(() => page.getByRole('button', { name: 'Merged model (zip)' }).click());
    const mergedFiles = unzipSync(new Uint8Array(merged.bytes));
    expect(Object.keys(mergedFiles).sort()).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']));
    await screenshot(page, 'export');
  }, 180000);

  test('the exported adapter is what the engine writes: PEFT import in Node reads it, shapes match, re-export is byte-identical', async () => {
    const { initBackend } = await import('../../src/engine/backend');
    const { parseModelConfig } = await import('../../src/engine/model/config');
    const { importPeft, exportPeft } = await import('../../src/engine/lora/peft');
    const { disposeAdapter } = await import('../../src/engine/lora/lora');
    await initBackend({ prefer: 'cpu' });
    const modelConfig = parseModelConfig(JSON.parse(await readFile(join(STORIES_DIR, 'config.json'), 'utf8')));
    const files = { config: seen.adapterConfig!.toString('utf8'), weights: new Uint8Array(seen.adapterWeights!) };
    const adapter = await importPeft(files, modelConfig);
    try {
      expect(adapter.layers.size).toBe(10); // q_proj and v_proj of 5 layers
      for (const [path, l] of adapter.layers) {
        const out = path.endsWith('q_proj') ? 64 : 32; // 8 heads x 8, 4 kv heads x 8
        expect(l.a.shape).toEqual([4, 64]);
        expect(l.b.shape).toEqual([out, 4]);
      }
      // The app's export adds the base weights' SHA-256 as safetensors metadata; the same
      // metadata must give the same bytes.
      const { openSafetensors } = await import('../../src/engine/model/safetensors');
      const { bytesSource } = await import('../../src/engine/model/byte-source');
      const { metadata } = await openSafetensors(bytesSource('adapter_model.safetensors', files.weights));
      expect(metadata.base_model_sha256).toMatch(/^[0-9a-f]{64}$/);
      const { format: _format, ...extra } = metadata;
      const again = await exportPeft(adapter, REPO, extra);
      expect(again.config).toBe(files.config);
      expect(Buffer.from(again.weights)).toEqual(seen.adapterWeights);
    } finally {
      disposeAdapter(adapter);
    }
  }, 60000);

  test('imports the adapter again ("Adapter files") and it gives the same tuned output', async () => {
    const dir = join(scratch, 'adapter');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'adapter_config.json'), seen.adapterConfig!);
    await writeFile(join(dir, 'adapter_model.safetensors'), seen.adapterWeights!);
    await page.getByLabel('Adapter files', { exact: true }).setInputFiles([join(dir, 'adapter_config.json'), join(dir, 'adapter_model.safetensors')]);
    await expect.poll(() => page.locator('dl[aria-label="Adapter"]').textContent(), { timeout: 30_000 }).toMatch(/Origin\s*imported/);
    await tab('Compare');
    await page.getByLabel('Validation example', { exact: true }).selectOption(seen.valPick!);
    await fill('Max new tokens', 10);
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.locator('section[aria-label$="output"] .chip.done').count(), { timeout: 120_000 }).toBe(2);
    expect(await page.locator('pre[data-output="tuned"]').textContent()).toBe(seen.tunedText);
    expect(await page.locator('section[aria-label$="output"] h2').nth(1).textContent()).toContain('imported adapter');
  }, 180000);

  test('an unknown format asks for a column mapping, and the mapped columns are used', async () => {
    const file = join(scratch, 'qa.jsonl');
    const rows = [
      // Keys in no known format and no common pair (question/answer would map on its own).
      { problem: 'What is 2 + 3?', solution: 'Two plus three is 5.' },
      { problem: 'What is 4 + 4?', solution: 'Four plus four is 8.' },
      { problem: 'What is 1 + 6?', solution: 'One plus six is 7.' },
    ];
    await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await tab('Data');
    await page.getByLabel('Dataset', { exact: true }).setInputFiles(file);
    const alert = page.locator('#panel-data [role="alert"]');
    await alert.waitFor({ timeout: 30_000 });
    expect(await alert.textContent()).toContain('"problem", "solution"');
    await page.getByLabel('Prompt column', { exact: true }).selectOption('problem');
    await page.getByLabel('Response column', { exact: true }).selectOption('solution');
    const summary = page.locator('dl[aria-label="Dataset summary"]');
    await expect.poll(async () => (await summary.textContent().catch(() => '')) ?? '', { timeout: 30_000 }).toMatch(/Records\s*3Good\s*3/);
    expect(await page.locator('#panel-data [role="alert"]').count()).toBe(0);
    expect(await page.locator('.token-preview').textContent()).toContain('What is');
    await screenshot(page, 'data-columns');
  }, 60000);

  test('a dataset with broken lines lists them by line number and trains on the rest', async () => {
    const good = (await readFile(TRAIN_JSONL, 'utf8')).split('\n').filter(Boolean).slice(0, 16);
    const lines = [...good];
    lines.splice(2, 0, '{"instruction": "Write a story about a cat.", "input": "", "output": "Once upon a time'); // line 3: cut off
    lines.splice(5, 0, 'this is not JSON'); // line 6
    lines.splice(9, 0, '["an", "array"]'); // line 10
    lines.splice(12, 0, '{"instruction": "Write a story about a dog.", "input": ""}'); // line 13: no output
    const file = join(scratch, 'broken-lines.jsonl');
    await writeFile(file, lines.join('\n') + '\n');
    await tab('Data');
    await page.getByLabel('Dataset', { exact: true }).setInputFiles(file);
    const table = page.locator('table[aria-label="Bad lines"]');
    await table.waitFor({ timeout: 60_000 });
    const bad = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(bad.map((r) => Number(r[0]))).toEqual([3, 6, 10, 13]);
    expect(bad[3]![1]).toContain('output');
    const summary = await page.locator('dl[aria-label="Dataset summary"]').textContent();
    expect(summary).toMatch(/Records\s*20/);
    expect(summary).toMatch(/Good\s*16/);
    expect(summary).toMatch(/Bad lines\s*4/);
    await screenshot(page, 'data-bad-lines');

    await tab('Train');
    await fill('Max steps', 4);
    await fill('Eval every (steps)', 0);
    await page.getByLabel('Evaluate the base model first').uncheck();
    await startTraining();
    // Pause at a step boundary (a checkpoint is saved there), then resume.
    await waitForStatus('running', 120_000);
    await page.getByRole('button', { name: 'Pause' }).click();
    await waitForStatus('paused', 120_000);
    await expect.poll(() => page.locator('ol[aria-label="Step log"]').textContent(), { timeout: 30_000 }).toMatch(/Paused after step (\d+)[\s\S]*Checkpoint saved at step \1/);
    await screenshot(page, 'train-paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await waitForStatus('done', 180_000);
    const points = await lossTable();
    expect(points).toHaveLength(4);
    expect(points.every((p) => Number.isFinite(p.loss))).toBe(true);
  }, 240000);

  test('after a reload the runs are listed, and an interrupted run resumes from its last checkpoint', async () => {
    // A run that is interrupted by a reload after its checkpoint at step 2.
    await fill('Max steps', 6);
    await fill('Checkpoint every (steps)', 2);
    await startTraining();
    await expect.poll(() => page.locator('dl[aria-label="Run status"]').textContent(), { timeout: 180_000, interval: 200 }).toMatch(/Checkpoint\s*step [24]/);
    const requestsBefore = hub.requests.length;
    await page.reload();
    await tab('Runs');
    const runs = page.locator('ul[aria-label="Saved runs"] > li');
    await expect.poll(() => runs.count(), { timeout: 30_000 }).toBe(3);
    const first = page.locator('li', { hasText: seen.firstRunName! }).filter({ hasText: 'step 20 of 20' });
    expect(await first.count()).toBe(1);
    expect(await first.locator('.chip').textContent()).toBe('finished');
    const interrupted = runs.filter({ has: page.locator('.chip', { hasText: 'interrupted' }) });
    expect(await interrupted.count()).toBe(1);
    const cpText = (await interrupted.textContent()) ?? '';
    const cpStep = Number(/checkpoint at step (\d+)/.exec(cpText)?.[1]);
    expect([2, 4]).toContain(cpStep);
    await screenshot(page, 'runs');

    await interrupted.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => page.locator('#panel-train').isVisible(), { timeout: 30_000 }).toBe(true);
    await waitForStatus('done', 240_000);
    const points = await lossTable();
    expect(points.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await page.locator('ol[aria-label="Step log"]').textContent()).toContain(`from its checkpoint at step ${cpStep}`);
    // The model came back from the browser's cache, and the dataset from the run's own copy.
    expect(hub.requests.slice(requestsBefore)).toEqual([]);
    await tab('Runs');
    await expect.poll(() => page.locator('ul[aria-label="Saved runs"] .chip', { hasText: 'interrupted' }).count()).toBe(0);
    await screenshot(page, 'runs-after-resume');
  }, 300000);

  test('a forced backend restarts the engine and loads the model again (WebAssembly build files are served)', async () => {
    await page.getByRole('button', { name: /^Backend:/ }).click();
    await page.getByLabel('Backend', { exact: true }).selectOption('wasm');
    const badge = page.getByRole('button', { name: /^Backend:/ });
    await expect.poll(() => badge.getAttribute('data-backend'), { timeout: 60_000 }).toBe('wasm');
    expect(await badge.textContent()).toContain('WebAssembly');
    expect(app.requests.some((r) => /\/weblora\/assets\/tfjs-backend-wasm[\w-]*\.wasm$/.test(r))).toBe(true);
    await tab('Model');
    await expect.poll(() => page.locator('#panel-model h2', { hasText: REPO }).count(), { timeout: 60_000 }).toBe(1);
    await expect.poll(() => page.getByRole('button', { name: 'Load from hub' }).isEnabled(), { timeout: 60_000 }).toBe(true);
  }, 120000);

  test('a crashed engine is restarted, the user is told, and the model is loaded again', async () => {
    const worker = page.workers().find((w) => w.url().includes('training.worker'));
    expect(worker).toBeTruthy();
    await worker!.evaluate(() => {
      setTimeout(() => {
        throw new Error('simulated crash');
      }, 0);
    });
    const notice = page.locator('.notice', { hasText: 'The engine stopped and was restarted' });
    await notice.waitFor({ timeout: 30_000 });
    expect(await notice.textContent()).toContain('simulated crash');
    await expect.poll(() => page.locator('#panel-model h2', { hasText: REPO }).count(), { timeout: 60_000 }).toBe(1);
    await expect.poll(() => page.getByRole('button', { name: 'Load from hub' }).isEnabled(), { timeout: 60_000 }).toBe(true);
    expect(await page.getByRole('button', { name: /^Backend:/ }).getAttribute('data-backend')).toBe('wasm');
    await screenshot(page, 'engine-restarted');
    // Nothing ever blanked the page: no uncaught exception in it the whole time.
    expect(log.errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
  }, 120000);
});
