// `npm run bench -- --timestamps` on Dawn/SwiftShader (whose adapter offers 'timestamp-query'):
// one more fused training step of stories260K timed pass by pass — every dispatch of the step is a
// timed pass, every kernel family of the step is present, and the families sum to the GPU busy
// time, within the span from the first pass to the last. Without the feature the row says why
// and the step still runs.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import { parseBenchArgs } from '../../bench/lib/args';
import { runRow, startBackend } from '../../bench/lib/measure';
import { installDispatchCounter } from '../../bench/lib/dispatch';
import { storiesFromDisk } from '../../bench/lib/node';
import { benchModel } from '../../bench/lib/models';
import { variant } from '../../bench/lib/variants';
import { timeFamilies } from '../../bench/lib/timestamps';
import { KERNEL_FAMILIES } from '../../kernels/families';

const ARGS = ['--models', 'stories260K', '--backends', 'webgpu', '--swiftshader', '--variants', 'fused', '--steps', '1', '--warmup', '1', '--seq', '16', '--batch', '2'];

describe('GPU timestamps per kernel family (bench --timestamps)', () => {
  beforeAll(async () => {
    expect(await installNodeWebGPU({ swiftshader: true })).toBe(true);
    expect((await startBackend('webgpu')).info.name).toBe('webgpu');
  });

  it('times every dispatch of a fused step; each family is present and they sum to the busy time', { timeout: 600_000 }, async () => {
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    expect(device.features.has('timestamp-query'), 'SwiftShader offers timestamp-query and TF.js requests it').toBe(true);
    const { config } = parseBenchArgs([...ARGS, '--no-generate', '--no-profile', '--timestamps']);
    const counter = installDispatchCounter();
    const row = await runRow(benchModel('stories260K'), 'webgpu', variant('fused'), { config, counter, stories: storiesFromDisk(), log: () => {} });
    expect(row.status, row.error).toBe('ok');
    const t = row.timestamps!;
    expect(t.available).toBe(true);
    // The timestamped step has the shapes of the counted one (after a warm-up, which includes the
    // Trainer's own tile tuning): one pass per dispatch.
    expect(t.passes).toBe(row.counts!.dispatchesEachStep![0]);
    expect(t.sharedPasses).toBe(0);
    expect(t.families.map((f) => f.family)).toEqual([...KERNEL_FAMILIES]);
    for (const f of t.families.filter((x) => x.family !== 'TF.js ops')) {
      expect(f.passes, f.family).toBeGreaterThan(0);
      expect(f.ms, f.family).toBeGreaterThan(0);
    }
    const sum = t.families.reduce((s, f) => s + f.ms, 0);
    expect(Math.abs(sum - t.busyMs)).toBeLessThan(1e-6 * t.busyMs);
    expect(t.families.reduce((s, f) => s + f.passes, 0)).toBe(t.passes);
    expect(t.busyMs).toBeLessThanOrEqual(t.spanMs * 1.0001);
    // The queue runs one pass at a time: the GPU is busy most of the span.
    expect(t.busyMs).toBeGreaterThan(0.5 * t.spanMs);
  });

  it("says why where the device has no 'timestamp-query', and the work still runs", async () => {
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    // Dawn's features may be an own property or the prototype's getter: put back whichever it was.
    const own = Object.getOwnPropertyDescriptor(device, 'features');
    Object.defineProperty(device, 'features', { value: new Set<string>(), configurable: true });
    try {
      let ran = false;
      const t = await timeFamilies(async () => {
        await tf.tidy(() => tf.ones([4]).add(1)).data();
        ran = true;
      });
      expect(ran).toBe(true);
      expect(t.available).toBe(false);
      expect(t.reason).toMatch(/timestamp-query/);
      expect(t.passes).toBe(0);
    } finally {
      if (own) Object.defineProperty(device, 'features', own);
      else delete (device as unknown as { features?: unknown }).features;
    }
    expect(device.features.has('timestamp-query')).toBe(true);
  });
});
