// `npm run bench -- --browser` (or `tsx bench/browser/run.ts [flags]`): builds the bench page
// with Vite, serves it on 127.0.0.1 with stories260K beside it, and runs the benchmark in
// headless Chromium (playwright-core, /usr/bin/chromium; never `playwright install`) on
// Chromium's own WebGPU, wasm and cpu. The page returns the rows; this side adds the machine.
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { parseBenchArgs, USAGE, type BenchArgs } from '../lib/args';
import { SCHEMA, type BenchReport } from '../lib/schema';
import { formatReport } from '../lib/table';
import { defaultOutPath, gitInfo, machineInfo, REPO_ROOT, softwareInfo, STORIES_DIR, writeReport } from '../lib/node';
import type { PageOutcome } from './main';
import { CHROMIUM_ARGS, serveFolders } from '../../test/helpers/static-server';

export { CHROMIUM_ARGS };

export async function buildBenchPage(): Promise<string> {
  const { build } = await import('vite');
  const config = resolve(REPO_ROOT, 'bench/browser/vite.config.ts');
  await build({ configFile: config });
  return resolve(REPO_ROOT, 'bench/browser/dist');
}

export async function runBrowserBench(args: BenchArgs, log: (line: string) => void): Promise<BenchReport> {
  log('building the bench page (vite)');
  const dist = await buildBenchPage();
  const server = await serveFolders({ '/bench/': dist, '/models/stories260K/': STORIES_DIR });
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
