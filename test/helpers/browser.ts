// Browser-test plumbing: build the app once per test run (shared by every test file through a
// lock in the temp folder), serve it from a sub-path of a static server on 127.0.0.1 (so a
// relative base is really exercised), and start headless Chromium with real WebGPU on
// SwiftShader.
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from './paths';
import { CHROMIUM_ARGS, serveFolders } from './static-server';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = resolve(REPO_ROOT, 'test-results/screenshots');
export const DOWNLOADS = resolve(REPO_ROOT, 'test-results/downloads');

/** One build per `vitest run`: keyed by the vitest main process, which forks the test workers. */
function buildDir(): string {
  return join(tmpdir(), `weblora-browser-build-${process.ppid}`);
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** Builds of earlier test runs, left in the temp folder, go once they are a few hours old. */
async function removeStaleBuilds(keep: string): Promise<void> {
  const root = tmpdir();
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.startsWith('weblora-browser-build-') || join(root, name) === keep) continue;
    const info = await stat(join(root, name)).catch(() => null);
    if (info && Date.now() - info.mtimeMs > 6 * 3600_000) await rm(join(root, name), { recursive: true, force: true }).catch(() => {});
  }
}

export async function buildApp(): Promise<string> {
  const dir = buildDir();
  await removeStaleBuilds(dir);
  const out = join(dir, 'dist');
  const done = join(dir, 'done');
  const lock = join(dir, 'lock');
  await mkdir(dir, { recursive: true });
  if (await exists(done)) return out;
  let owner = false;
  try {
    await mkdir(lock);
    owner = true;
  } catch {
    owner = false;
  }
  if (owner) {
    try {
      const { build } = await import('vite');
      // Vitest sets NODE_ENV=test, which would give the page React's development build.
      const nodeEnv = process.env.NODE_ENV;
      process.env.NODE_ENV = 'production';
      try {
        await build({
          root: REPO_ROOT,
          mode: 'production',
          configFile: resolve(REPO_ROOT, 'vite.config.ts'),
          logLevel: 'warn',
          build: { outDir: out, emptyOutDir: true },
        });
      } finally {
        process.env.NODE_ENV = nodeEnv;
      }
      await writeFile(done, new Date().toISOString());
    } catch (e) {
      await writeFile(join(dir, 'failed'), String(e));
      throw e;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
    return out;
  }
  const deadline = Date.now() + 170_000;
  while (Date.now() < deadline) {
    if (await exists(done)) return out;
    if (await exists(join(dir, 'failed'))) throw new Error(`the app build failed: ${await readFile(join(dir, 'failed'), 'utf8')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('timed out waiting for the app build');
}

export interface StaticServer {
  /** The app's URL, ending in "/". */
  url: string;
  requests: string[];
  close(): Promise<void>;
}

export async function serveStatic(dir: string, prefix = '/weblora/'): Promise<StaticServer> {
  const server = await serveFolders({ [prefix]: dir });
  return { url: `${server.origin}${prefix}`, requests: server.requests, close: server.close };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export interface PageLog {
  errors: string[];
  console: string[];
}

/** A page whose console errors and uncaught exceptions are collected for the assertions. */
export async function openPage(context: BrowserContext, url: string): Promise<{ page: Page; log: PageLog }> {
  const page = await context.newPage();
  const log: PageLog = { errors: [], console: [] };
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    const line = `${m.type()}: ${m.text()}`;
    log.console.push(line);
    if (m.type() === 'error') log.errors.push(line);
  });
  page.on('worker', (w) => w.on('console', (m) => log.console.push(`worker ${m.type()}: ${m.text()}`)));
  await page.goto(url);
  return { page, log };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
