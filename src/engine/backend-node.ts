// Node only: gives Node a navigator.gpu through Dawn (the `webgpu` package), so the same
// WebGPU backend runs headless — on a real GPU's Vulkan driver, or on SwiftShader for tests.
import { existsSync } from 'node:fs';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
/** Mesa's lavapipe (Debian's mesa-vulkan-drivers): a CPU Vulkan with shader-f16, which SwiftShader lacks. */
export const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';

/**
 * Dawn toggles: NVIDIA's Vulkan driver gets shader-f16 only with vulkan_enable_f16_on_nvidia,
 * and the matrix units (chromium-experimental-subgroup-matrix) only with allow_unsafe_apis
 * (Chrome: --enable-unsafe-webgpu --enable-dawn-features=vulkan_enable_f16_on_nvidia).
 */
export const DAWN_FEATURES = ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia'];

/**
 * The toggles, plus any named in WEBLORA_DAWN_FEATURES (comma-separated) — e.g. disable_robustness,
 * which drops Dawn's index clamping (~20% on the H200's best fp32 tile at 4096³). Off by default:
 * a browser keeps robustness, and the benchmark should measure what a user gets.
 */
export function dawnFlags(env: string | undefined = process.env.WEBLORA_DAWN_FEATURES): string[] {
  const extra = (env ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return [`enable-dawn-features=${[...new Set([...DAWN_FEATURES, ...extra])].join(',')}`];
}

export interface NodeWebGPUOptions {
  /** Use Chromium's SwiftShader Vulkan ICD (CPU) — for tests on machines without a GPU. */
  swiftshader?: boolean;
  /** Use Mesa's lavapipe instead (for the f16 paths). Either takes effect before Dawn first loads in the process. */
  lavapipe?: boolean;
}

export async function installNodeWebGPU(opts: NodeWebGPUOptions = {}): Promise<boolean> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return true;
  // Asked for by name, lavapipe wins over an ICD set in the environment (SwiftShader, usually).
  if (opts.lavapipe) {
    if (!existsSync(LAVAPIPE_ICD)) throw new Error(`lavapipe is not installed (${LAVAPIPE_ICD} is missing): apt-get install -t bookworm-backports mesa-vulkan-drivers`);
    process.env.VK_ICD_FILENAMES = LAVAPIPE_ICD;
  }
  if (opts.swiftshader && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch {
    return false;
  }
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create(dawnFlags());
  Object.defineProperty(globalThis, 'navigator', {
    value: { ...(g.navigator ?? {}), gpu },
    configurable: true,
    writable: true,
  });
  return true;
}
