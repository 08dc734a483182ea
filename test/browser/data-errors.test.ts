// Bad dataset files dropped on the Data panel of the built app (WebAssembly, stories260K loaded
// from its files): an empty file, binary bytes, a PNG renamed .jsonl, a file where no line is
// JSON and a .txt of prose each get their own message naming the file and saying what to do,
// with no column mapper; a question/answer file maps on its own, the mapping shown.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { buildApp, launchBrowser, openPage, screenshot, serveStatic, type PageLog, type StaticServer } from '../helpers/browser';
import { STORIES_DIR } from '../helpers/paths';

let app: StaticServer;
let browser: Browser;
let page: Page;
let log: PageLog;
let scratch: string;

/** A real 1×1 PNG (signature, IHDR, IDAT, IEND), renamed .jsonl. */
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082',
  'hex',
);
/** Binary bytes: deterministic noise, NULs included. */
const BINARY = Buffer.from(Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24));

interface BadFile {
  name: string;
  content: string | Buffer;
  /** The message must match; and no other file's. */
  message: RegExp;
}

const BAD: BadFile[] = [
  { name: 'empty.jsonl', content: '', message: /empty\.jsonl is empty \(0 bytes\)\..*JSON Lines: one JSON object per line/ },
  { name: 'noise.jsonl', content: BINARY, message: /noise\.jsonl is not a text file: it holds binary data.*reads a dataset as UTF-8 text/ },
  { name: 'photo.jsonl', content: PNG, message: /photo\.jsonl looks like a PNG image, not a text file\..*reads a dataset as UTF-8 text/ },
  {
    name: 'not-json.jsonl',
    content: "{instruction: 'Add 2 and 2', output: '4'}\n{'instruction': 'Say hi', 'output': 'hi'}\n{\"instruction\": \"cut off\n",
    message: /No line of not-json\.jsonl is a JSON record \(3 bad lines\): line 1 "\{instruction: 'Add 2 and 2', output: '4'\}": not valid JSON.*; line 2 .*; line 3 .*Each line must be one JSON object/,
  },
  {
    name: 'story.txt',
    content: 'Once upon a time there was a fox.\nShe lived by the river.\n\nThe end.\n',
    message: /story\.txt is plain text, not JSON records \(line 1: "Once upon a time there was a fox\."\)\..*\{"text": "…"\} to train on plain text.*\{"text":"Once upon a time there was a fox\."\}/,
  },
];

const alert = () => page.locator('#panel-data [role="alert"]');
const mapper = () => page.locator('#panel-data [role="group"][aria-label="Column mapping"]');

async function dropDataset(name: string, content: string | Buffer): Promise<void> {
  const file = join(scratch, name);
  await writeFile(file, content);
  await page.getByLabel('Dataset', { exact: true }).setInputFiles(file);
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'weblora-data-errors-'));
  app = await serveStatic(await buildApp());
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  ({ page, log } = await openPage(context, `${app.url}?backend=wasm`));
  await page.locator('button[data-backend="wasm"]').waitFor({ timeout: 60_000 });
  await page.getByLabel('Model files', { exact: true }).setInputFiles(STORIES_DIR);
  await page.locator('#panel-model dl[aria-label="Model summary"]').waitFor({ timeout: 60_000 });
  await page.getByRole('tab', { name: /^(\d|✓|↻)?\s*Data/ }).click();
  await page.locator('#panel-data').waitFor({ state: 'visible' });
}, 240_000);

afterEach(async ({ task }) => {
  // What the page showed when a test failed.
  if (task.result?.state !== 'fail' || !page) return;
  await screenshot(page, `failed-data-errors-${task.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {});
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
  await browser?.close();
  await app?.close();
});

describe('bad dataset files on the Data panel', () => {
  test('each gets its own message naming the file and what to do, and no column mapper', async () => {
    const shown: string[] = [];
    for (const bad of BAD) {
      await dropDataset(bad.name, bad.content);
      // The card for this file (the previous file's card goes when this one is read).
      await expect.poll(async () => (await alert().textContent().catch(() => '')) ?? '', { timeout: 30_000 }).toContain(bad.name);
      const text = (await alert().textContent()) ?? '';
      expect(text).toMatch(bad.message);
      expect(text).not.toMatch(/could not detect the dataset format|column mapping/);
      expect(await mapper().count()).toBe(0);
      // Nothing of an earlier file is left on the page: no summary, no preview.
      expect(await page.locator('dl[aria-label="Dataset summary"]').count()).toBe(0);
      await screenshot(page, `data-error-${bad.name.replace(/\W+/g, '-')}`);
      shown.push(text);
    }
    // Each message is its own, the file's name aside.
    expect(new Set(shown.map((text, i) => text.replaceAll(BAD[i]!.name, 'FILE'))).size).toBe(BAD.length);
  }, 180_000);

  test('a question/answer file maps on its own: the mapping is shown, and no column mapper', async () => {
    const rows = [
      { question: 'What is 2 + 3?', answer: 'Two plus three is 5.' },
      { question: 'What is 4 + 4?', answer: 'Four plus four is 8.' },
      { question: 'What is 1 + 6?', answer: 'One plus six is 7.' },
    ];
    await dropDataset('qa.jsonl', rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const summary = page.locator('dl[aria-label="Dataset summary"]');
    await expect.poll(async () => (await summary.textContent().catch(() => '')) ?? '', { timeout: 60_000 }).toMatch(/Records\s*3Good\s*3Bad lines\s*0/);
    expect(await alert().count()).toBe(0);
    expect(await mapper().count()).toBe(0);
    expect(await page.locator('#panel-data').textContent()).toContain('Detected: question → answer (columns; 3 of 3 sampled records)');
    await expect.poll(async () => (await page.locator('.token-preview').textContent().catch(() => '')) ?? '', { timeout: 30_000 }).toContain('What is 2 + 3?');
    await screenshot(page, 'data-qa-detected');
    expect(log.errors).toEqual([]);
  }, 120_000);
});
