// The half-precision frozen matmuls' self-check on the GPU at hand (npx tsx bench/f16-check.ts, or
// `npm run bench -- --f16-check`, which the GPU bundle's bench.mjs runs too):
// what the device offers, which kernel f16-base picks, and each kernel's products against float64
// of the same f16-rounded inputs (max error relative to the products' scale, must be < 1e-3):
// the SIMT f16 kernel, and — where the adapter lists an f16 × f16 → f32 subgroup matrix shape —
// the subgroup-matrix kernel, run even if the automatic choice refused it, so a failure shows.
// Exit 1 when a kernel that can run here is wrong. `--lavapipe`: Mesa's CPU Vulkan (no GPU).
import { tf } from '../src/engine/tf';
import { installNodeWebGPU } from '../src/engine/backend-node';
import { initBackend } from '../src/engine/backend';
import { deviceFeatures } from '../src/engine/webgpu-device';
import { checkHalfMatmul, pickMatrixShape } from '../kernels/matmul-f16';

/** Prints the check; returns the exit code. */
export async function f16CheckMain(argv: readonly string[]): Promise<number> {
  const lavapipe = argv.includes('--lavapipe');
  if (!(await installNodeWebGPU({ lavapipe }))) throw new Error('Dawn (npm "webgpu") failed to load');
  const info = await initBackend({ prefer: 'webgpu', precision: 'auto', allowSoftwareGpu: true });
  const device = deviceFeatures();
  const line = (s: string) => process.stdout.write(`${s}\n`);
  line(`f16-check: adapter ${[info.adapter?.vendor, info.adapter?.architecture, info.adapter?.description].filter(Boolean).join(' / ')}`);
  line(`f16-check: features ${info.features?.join(', ') || 'none'}; subgroup sizes ${device?.subgroupMinSize ?? '?'}–${device?.subgroupMaxSize ?? '?'}`);
  line(`f16-check: subgroup matrix configs ${device?.subgroupMatrixConfigs.map((c) => `${c.componentType}→${c.resultComponentType} ${c.M}×${c.N}×${c.K}`).join(', ') || 'none'}`);
  line(`f16-check: precision auto → ${info.precision}; frozen matmul path: ${info.frozenMatmul}${info.frozenMatmulNote ? ` (${info.frozenMatmulNote})` : ''}`);

  let failed = false;
  if (info.precision !== 'f16-base') {
    line('f16-check: no shader-f16 here: nothing to check');
  } else {
    const simt = await checkHalfMatmul(null);
    line(`f16-check: simt-f16 max relative error ${simt.error.toExponential(2)} ${simt.why ?? (simt.error < 1e-3 ? 'ok' : 'FAIL')}`);
    failed ||= !(simt.error < 1e-3);
    const shape = pickMatrixShape(device?.subgroupMatrixConfigs ?? []);
    if (shape && info.features?.includes('chromium-experimental-subgroup-matrix')) {
      const lanes = 4 * (device?.subgroupMaxSize ?? 32);
      const sg = await checkHalfMatmul({ shape, lanes });
      line(`f16-check: subgroup-matrix ${shape.M}×${shape.N}×${shape.K}, ${lanes} lanes: max relative error ${sg.error.toExponential(2)} ${sg.why ?? 'ok'}`);
      failed ||= !!sg.why;
    } else {
      line('f16-check: subgroup-matrix: not offered by this adapter');
    }
  }
  line(`f16-check: ${failed ? 'FAILED' : 'passed'}`);
  tf.disposeVariables();
  return failed ? 1 : 0;
}

// By file name only: bundled into bench.mjs, import.meta.url would be bench.mjs's.
if (/bench[/\\]f16-check\.ts$/.test(process.argv[1] ?? '')) f16CheckMain(process.argv.slice(2)).then((code) => process.exit(code));
