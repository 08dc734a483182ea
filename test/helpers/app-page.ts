// The app served from a fresh build, in headless Chromium on wasm, with stories260K loaded from
// its folder: where the browser tests that train or export start. Plus the two moves they all make.
import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import { buildApp, launchBrowser, openPage, serveStatic, type StaticServer } from './browser';
import { STORIES_DIR } from './paths';

export interface StoriesApp {
  app: StaticServer;
  browser: Browser;
  page: Page;
}

export async function openStoriesApp(): Promise<StoriesApp> {
  const app = await serveStatic(await buildApp());
  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, acceptDownloads: true });
  const { page } = await openPage(context, `${app.url}?backend=wasm`);
  await page.locator('button[data-backend="wasm"]').waitFor({ timeout: 60_000 });
  await page.getByLabel('Model files', { exact: true }).setInputFiles(STORIES_DIR);
  await page.locator('#panel-model dl[aria-label="Model summary"]').waitFor({ timeout: 60_000 });
  return { app, browser, page };
}

export async function closeStoriesApp(s: Partial<StoriesApp>): Promise<void> {
  await s.browser?.close();
  await s.app?.close();
}

/** Opens a panel by its tab (whose label may start with a step number, ✓ or ↻). */
export async function showTab(page: Page, name: string): Promise<void> {
  await page.getByRole('tab', { name: new RegExp(`^(\\d|✓|↻)?\\s*${name}`) }).click();
  await expect.poll(() => page.locator(`#panel-${name.toLowerCase()}`).isVisible()).toBe(true);
}

/** Types into the field labelled `label` (within a panel when given) and leaves it, as a user does. */
export async function fillField(page: Page, label: string, value: string | number, panel?: string): Promise<void> {
  const input = (panel ? page.locator(`#panel-${panel}`) : page).getByLabel(label, { exact: true });
  await input.fill(String(value));
  await input.blur();
}
