// Backend start-up for the CLI. Node has no WebGPU of its own: Dawn (the `webgpu` package)
// provides one. Rule for SwiftShader, Chromium's CPU Vulkan driver (slow, but real WebGPU):
//   - WEBLORA_SWIFTSHADER=1 always uses it (tests, CI);
//   - `--backend webgpu` uses it when the machine has no other Vulkan driver installed;
//   - `--backend auto` never picks it on its own, since wasm is faster than emulated WebGPU.
import { readdirSync } from 'node:fs';
import { tf } from '../../engine/tf';
import { initBackend, type BackendInfo } from '../../engine/backend';
import { installNodeWebGPU } from '../../engine/backend-node';
import type { BackendChoice, KernelChoice, PrecisionChoice } from './backend-choice';
import type { CliIO } from './io';

const ICD_DIRS = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

/** A Vulkan driver manifest other than SwiftShader's, or one chosen through the environment. */
export function hasVulkanDriver(env: CliIO['env']): boolean {
  if (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES) return true;
  return ICD_DIRS.some((dir) => {
    try {
      return readdirSync(dir).some((f) => f.endsWith('.json') && !/swiftshader/i.test(f));
    } catch {
      return false;
    }
  });
}

export async function startBackend(choice: BackendChoice, io: CliIO, kernels: KernelChoice = 'fused', precision: PrecisionChoice = 'fp32'): Promise<BackendInfo> {
  // PROD mode silences TF.js's console banner ("install tfjs-node"), which would land in the
  // middle of the CLI's own output, and skips debug-only checks.
  tf.enableProdMode();
  const forcedSwiftShader = io.env.WEBLORA_SWIFTSHADER === '1';
  if (choice === 'auto' || choice === 'webgpu') {
    await installNodeWebGPU({ swiftshader: forcedSwiftShader || (choice === 'webgpu' && !hasVulkanDriver(io.env)) });
  }
  let info: BackendInfo;
  try {
    info = await initBackend({ prefer: choice, kernels, precision, allowSoftwareGpu: forcedSwiftShader });
  } catch (e) {
    const hint =
      choice === 'webgpu' && !forcedSwiftShader
        ? '; without a GPU, WEBLORA_SWIFTSHADER=1 runs WebGPU on the CPU (slow, for testing), or use --backend wasm'
        : '';
    throw new Error(`${(e as Error).message}${hint}`);
  }
  // On webgpu, always which precision (elsewhere only fp32 exists).
  const half =
    info.precision === 'f16-base'
      ? `; precision f16-base (frozen matmuls: ${info.frozenMatmul}${info.frozenMatmulNote ? `, not subgroup matrices: ${info.frozenMatmulNote}` : ''})`
      : info.name === 'webgpu'
        ? '; precision fp32'
        : '';
  io.stderr(`backend: ${info.reason}${info.name === 'webgpu' ? `; ${info.kernels === 'fused' ? 'fused WGSL kernels' : 'stock TF.js ops'}` : ''}${half}\n`);
  return info;
}
