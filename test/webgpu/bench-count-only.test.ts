// `npm run bench -- --count-only` reports a step's dispatches and tensor bytes without running
// it (bench/lib/dispatch.ts). That is only worth anything if the figures equal those of a step
// that really runs: here both, on stories260K, stock and fused, on Dawn/SwiftShader.
import { beforeAll, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import { parseBenchArgs } from '../../bench/lib/args';
import { runBench } from '../../bench/lib/bench';
import { executeDispatches, installDispatchCounter, placeholderBuffers } from '../../bench/lib/dispatch';
import { storiesFromDisk } from '../../bench/lib/node';
import type { BenchRow } from '../../bench/lib/schema';

beforeAll(async () => {
  expect(await installNodeWebGPU({ swiftshader: true })).toBe(true);
});

it('count-only figures equal those of executed steps (stories260K, stock and fused)', { timeout: 900_000 }, async () => {
  tf.enableProdMode();
  const counter = installDispatchCounter()!;
  expect(counter).not.toBeNull();
  const argv = ['--models', 'stories260K', '--backends', 'webgpu', '--variants', 'stock,fused', '--steps', '1', '--warmup', '1', '--batch', '2', '--seq', '48', '--no-generate'];
  const run = async (countOnly: boolean): Promise<BenchRow[]> => {
    const { config } = parseBenchArgs(countOnly ? [...argv, '--count-only'] : argv);
    const outcome = await runBench(config, { counter, stories: storiesFromDisk(), log: () => {}, backendsGiven: true });
    return outcome.rows;
  };
  const real = await run(false);
  executeDispatches(false);
  placeholderBuffers();
  const counted = await run(true);
  executeDispatches(true);
  for (const [i, r] of real.entries()) {
    const c = counted[i]!;
    expect(r.status, r.error).toBe('ok');
    expect(c.status, c.error).toBe('ok');
    console.log(`${r.variant}: executed ${r.counts?.dispatchesPerStep} dispatches, ${r.memory?.peakBytes} peak bytes; count-only ${c.counts?.dispatchesPerStep}, ${c.memory?.peakBytes}`);
    expect(r.counts!.dispatchesPerStep).toBeGreaterThan(100);
    expect(c.counts!.dispatchesPerStep).toBe(r.counts!.dispatchesPerStep);
    expect(c.counts!.tfKernelsPerStep).toBe(r.counts!.tfKernelsPerStep);
    expect(c.memory!.peakBytes).toBe(r.memory!.peakBytes);
    expect(c.memory!.stepPeakBufferBytes).toBe(r.memory!.stepPeakBufferBytes);
  }
});
