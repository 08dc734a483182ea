// The benchmark loop shared by Node and the bench page: for each backend that is available
// (or was asked for), each variant, each model — one row.
import { tf } from '../../src/engine/tf';
import type { BackendName } from '../../src/engine/backend';
import { benchModel, type StoriesFiles } from './models';
import { variant } from './variants';
import { parsePrecisions, usePrecision } from './precision';
import { setPrecision } from '../../kernels/precision';
import { probeAdapter, runRow, shapeOf, startBackend } from './measure';
import type { GpuCounts } from './dispatch';
import type { BackendDescription, BenchConfig, BenchRow } from './schema';

export interface BenchEnvironment {
  counter: GpuCounts | null;
  stories: StoriesFiles;
  log: (line: string) => void;
  /** Backends were named on the command line: run them even on a software adapter, and report failures. */
  backendsGiven: boolean;
  wasmPaths?: string;
}

export interface BenchOutcome {
  backends: BackendDescription[];
  rows: BenchRow[];
}

/** Why a backend is left out of an automatic run, or null to run it. */
async function unavailable(name: BackendName, config: BenchConfig, explicit: boolean): Promise<string | null> {
  if (name !== 'webgpu') return null;
  const adapter = await probeAdapter();
  if (!adapter) return 'no WebGPU adapter';
  if (adapter.software && !config.swiftshader && !explicit) {
    return `only a software adapter (${adapter.label}); pass --swiftshader to include it`;
  }
  return null;
}

export async function runBench(config: BenchConfig, env: BenchEnvironment): Promise<BenchOutcome> {
  const backends: BackendDescription[] = [];
  const rows: BenchRow[] = [];
  const errorRows = (backend: string, error: string) => {
    for (const v of config.variants) {
      for (const m of config.models) rows.push({ model: m, backend, variant: v, status: 'error', error, shape: shapeOf(config), seconds: 0 });
    }
  };
  for (const name of config.backends as BackendName[]) {
    const why = await unavailable(name, config, env.backendsGiven);
    if (why) {
      env.log(`${name}: skipped (${why})`);
      backends.push({ name, reason: `not run: ${why}` });
      if (env.backendsGiven) errorRows(name, why);
      continue;
    }
    let description: BackendDescription;
    try {
      description = (await startBackend(name, env.wasmPaths)).description;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      env.log(`${name}: could not start (${msg})`);
      backends.push({ name, reason: `failed to start: ${msg}` });
      errorRows(name, msg);
      continue;
    }
    backends.push(description);
    env.log(`${name}: ${description.reason}`);
    for (const precision of parsePrecisions(config.precisions ?? ['fp32'])) {
      for (const v of config.variants) {
        const use = await usePrecision(precision, name, v);
        if ('note' in use && use.note) env.log(`${name} ${v} ${precision}: frozen matmuls on ${use.frozenMatmul}, not subgroup matrices: ${use.note}`);
        else if ('frozenMatmul' in use && precision !== 'fp32') env.log(`${name} ${v} ${precision}: frozen matmuls on ${use.frozenMatmul}`);
        for (const m of config.models) {
          if ('skip' in use) {
            rows.push({ model: m, backend: name, variant: v, precision, status: 'skipped', error: use.skip, shape: shapeOf(config), seconds: 0 });
            continue;
          }
          const before = tf.memory();
          // Only WebGPU dispatches: in a browser the counters exist whatever the backend.
          const counter = name === 'webgpu' ? env.counter : null;
          const row = await runRow(benchModel(m), name, variant(v), { config, counter, stories: env.stories, log: env.log });
          rows.push({ ...row, precision, frozenMatmul: use.frozenMatmul, ...(use.note ? { frozenMatmulNote: use.note } : {}) });
          const after = tf.memory();
          if (after.numTensors > before.numTensors) {
            env.log(`  (${after.numTensors - before.numTensors} tensors, ${after.numBytes - before.numBytes} bytes still alive after the row)`);
          }
        }
      }
      setPrecision('fp32');
    }
  }
  return { backends, rows };
}
