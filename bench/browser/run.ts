// `npm run bench -- --browser` (or `tsx bench/browser/run.ts [flags]`): builds the bench page
// with Vite, serves it on 127.0.0.1 with stories260K beside it, and runs the benchmark in
// headless Chromium (playwright-core, /usr/bin/chromium; never `playwright install`) on
// Chromium's own WebGPU, wasm and cpu. The page returns the rows; this side adds the machine.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { parseBenchArgs, USAGE, type BenchArgs } from '../lib/args';
import { SCHEMA, type BenchReport } from '../lib/schema';
import { formatReport } from '../lib/table';
import { defaultOutPath, gitInfo, machineInfo, REPO_ROOT, softwareInfo, STORIES_DIR, writeReport } from '../lib/node';
import type { PageOutcome } from './main';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

export async function buildBenchPage(): Promise<string> {
  const { build } = await import('vite');
  const config = resolve(REPO_ROOT, 'bench/browser/vite.config.ts');
  await build({ configFile: config });
  return resolve(REPO_ROOT, 'bench/browser/dist');
}

/** Serves each prefix from its folder (files only); returns the origin. */
async function serve(mounts: Record<string, string>): Promise<{ origin: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const prefix = Object.keys(mounts).find((p) => path.startsWith(p));
    if (!prefix) return void res.writeHead(404).end('not found');
    const root = resolve(mounts[prefix]!);
    let file = normalize(join(root, path.slice(prefix.length)));
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    if (path.endsWith('/')) file = join(file, 'index.html');
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': info.size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export async function runBrowserBench(args: BenchArgs, log: (line: string) => void): Promise<BenchReport> {
  log('building the bench page (vite)');
  const dist = await buildBenchPage();
  const server = await serve({ '/bench/': dist, '/models/stories260K/': STORIES_DIR });
  const executablePath = args.chromium ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const browser = await chromium.launch({ executablePath, headless: !args.headed, args: [...CHROMIUM_ARGS, ...args.chromiumArgs] });
  const machine = machineInfo();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      const text = m.text();
      if (text.startsWith('[bench] ')) log(text.slice(8));
      else if (m.type() === 'error' || m.type() === 'warning') log(`  [page ${m.type()}] ${text}`);
    });
    page.on('pageerror', (e) => {
      errors.push(e.message);
      log(`  [page error] ${e.message}`);
    });
    await page.goto(`${server.origin}/bench/`);
    await page.waitForFunction(() => 'weblora_bench' in window, undefined, { timeout: 60_000 });
    const outcome = (await page.evaluate(
      ({ config, backendsGiven }) =>
        (window as unknown as { weblora_bench: { run(c: unknown, b: boolean): Promise<unknown> } }).weblora_bench.run(config, backendsGiven),
      { config: args.config, backendsGiven: args.backendsGiven },
    )) as PageOutcome;
    return {
      schema: SCHEMA,
      runner: 'browser',
      createdAt: new Date().toISOString(),
      command: process.argv.slice(2).join(' '),
      git: gitInfo(),
      machine: { ...machine, loadAverageAfter: machineInfo().loadAverage, browser: outcome.environment },
      software: { ...softwareInfo(), chromium: browser.version(), chromiumArgs: [...CHROMIUM_ARGS, ...args.chromiumArgs].join(' ') },
      backends: outcome.backends,
      config: args.config,
      rows: outcome.rows,
    };
  } finally {
    await browser.close();
    await server.close();
  }
}

// Run directly: tsx bench/browser/run.ts [flags] (the same flags as npm run bench).
if (process.argv[1]?.endsWith('bench/browser/run.ts')) {
  const main = async () => {
    const args = parseBenchArgs(process.argv.slice(2));
    if (args.help) return void process.stdout.write(USAGE);
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const report = await runBrowserBench(args, log);
    process.stdout.write(`\n${formatReport(report)}\n`);
    const path = await writeReport(args.out ?? defaultOutPath('browser'), report);
    process.stdout.write(`\nwrote ${path}\n`);
    process.exitCode = report.rows.some((r) => r.status === 'error') ? 1 : 0;
  };
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
