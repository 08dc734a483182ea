// Node only: gives Node a navigator.gpu through Dawn (the `webgpu` package), so the same
// WebGPU backend runs headless — on a real GPU's Vulkan driver, or on SwiftShader for tests.
import { existsSync } from 'node:fs';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface NodeWebGPUOptions {
  /** Use Chromium's SwiftShader Vulkan ICD (CPU) — for tests on machines without a GPU. */
  swiftshader?: boolean;
}

export async function installNodeWebGPU(opts: NodeWebGPUOptions = {}): Promise<boolean> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return true;
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
  const gpu = dawn.create([]);
  Object.defineProperty(globalThis, 'navigator', {
    value: { ...(g.navigator ?? {}), gpu },
    configurable: true,
    writable: true,
  });
  return true;
}
