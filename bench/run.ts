// `npm run bench`: LoRA training and generation speed of WebLoRA's engine per model × backend ×
// variant, in Node (WebGPU through Dawn, wasm, cpu) or, with --browser, in headless Chromium.
// Prints a table and writes a JSON report (bench/lib/schema.ts); see bench/README.md.
import { tf } from '../src/engine/tf';
import { installNodeWebGPU } from '../src/engine/backend-node';
import { parseBenchArgs, USAGE, type BenchArgs } from './lib/args';
import { runBench } from './lib/bench';
import { executeDispatches, installDispatchCounter, placeholderBuffers } from './lib/dispatch';
import { SCHEMA, type BenchReport } from './lib/schema';
import { formatReport } from './lib/table';
import { defaultOutPath, gitInfo, machineInfo, softwareInfo, storiesFromDisk, writeReport } from './lib/node';
import { matmulMain } from './matmul';
import { trainCheckMain } from './train-check';
import { f16CheckMain } from './f16-check';
import { formatFamilies } from './lib/timestamps';

export async function runNodeBench(args: BenchArgs, log: (line: string) => void): Promise<BenchReport> {
  const config = args.config;
  tf.enableProdMode();
  if (config.backends.includes('webgpu')) await installNodeWebGPU({ swiftshader: config.swiftshader });
  const counter = installDispatchCounter();
  if (config.countOnly) {
    if (!counter) throw new Error('--count-only: this environment has no WebGPU classes to count');
    executeDispatches(false);
    placeholderBuffers();
  }
  const machine = machineInfo();
  const outcome = await runBench(config, { counter, stories: storiesFromDisk(), log, backendsGiven: args.backendsGiven });
  return {
    schema: SCHEMA,
    runner: 'node',
    createdAt: new Date().toISOString(),
    command: process.argv.slice(2).join(' '),
    git: gitInfo(),
    machine: { ...machine, loadAverageAfter: machineInfo().loadAverage },
    software: softwareInfo(),
    backends: outcome.backends,
    config,
    rows: outcome.rows,
  };
}

async function main(argv: string[]): Promise<number> {
  // The matmul probe has flags of its own (bench/matmul.ts); it is here so that the GPU bundle's bench.mjs runs it too.
  if (argv.includes('--matmul')) return matmulMain(argv.filter((a) => a !== '--matmul'));
  // The half-precision matmuls' self-check (bench/f16-check.ts), here for the same reason.
  if (argv.includes('--f16-check')) return f16CheckMain(argv);
  // A few steps of one model at its exact config (bench/train-check.ts), for the same reason.
  if (argv.includes('--train-check')) return trainCheckMain(argv);
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let report: BenchReport;
  if (args.browser) {
    const { runBrowserBench } = await import('./browser/run');
    report = await runBrowserBench(args, log);
  } else {
    report = await runNodeBench(args, log);
  }
  process.stdout.write(`\n${formatReport(report)}\n`);
  const families = formatFamilies(report.rows);
  if (families) process.stdout.write(`\n${families}\n`);
  const path = await writeReport(args.out ?? defaultOutPath(report.runner), report);
  process.stdout.write(`\nwrote ${path}\n`);
  return report.rows.some((r) => r.status === 'error') ? 1 : 0;
}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('bench/run.ts');
if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
