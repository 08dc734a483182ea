// Picks the TF.js backend: WebGPU, else wasm, else cpu — and says why, because a silent
// fallback to cpu turns a minute of training into an hour and the user deserves to know.
import { tf } from './tf';
import { setKernelMode, type KernelMode } from '../../kernels/mode';
import { activeKernels } from '../../kernels/active';
import { patchWebGpuKernels } from './webgpu-addn';

export type BackendName = 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['webgpu', 'wasm', 'cpu'];

export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
}

export interface BackendInfo {
  name: BackendName;
  requested: BackendName | 'auto';
  /** One sentence for the user: what runs and, after a fallback, why. */
  reason: string;
  /** Backends tried before this one, with what went wrong. */
  failures: { name: BackendName; error: string }[];
  adapter?: GpuAdapterSummary;
  /** What runs the hot loop: 'fused' only on webgpu with the fused kernels switched on. */
  kernels: KernelMode;
}

export interface BackendOptions {
  prefer?: BackendName | 'auto';
  /**
   * Where the wasm binaries are served from (browser builds; Node finds them itself): a folder
   * prefix, or each file's URL when a bundler renames them.
   */
  wasmPaths?: string | Record<string, string>;
  /** The WebGPU hot loop: fused WGSL kernels (default) or stock TF.js ops (kernels/mode.ts). */
  kernels?: KernelMode;
}

async function probeWebGPU(): Promise<GpuAdapterSummary> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new Error('this environment has no WebGPU (navigator.gpu is missing)');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('WebGPU is present but no GPU adapter is available');
  const info = adapter.info;
  return { vendor: info?.vendor ?? '', architecture: info?.architecture ?? '', description: info?.description ?? '' };
}

async function register(name: BackendName, opts: BackendOptions): Promise<GpuAdapterSummary | undefined> {
  if (name === 'webgpu') {
    const adapter = await probeWebGPU();
    // Imported only now: the package decides at import time whether WebGPU exists.
    await import('@tensorflow/tfjs-backend-webgpu');
    return adapter;
  }
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (opts.wasmPaths) wasm.setWasmPaths(opts.wasmPaths);
  }
  return undefined;
}

export async function initBackend(opts: BackendOptions = {}): Promise<BackendInfo> {
  const requested = opts.prefer ?? 'auto';
  const order = requested === 'auto' ? BACKEND_ORDER : [requested];
  const failures: BackendInfo['failures'] = [];
  for (const name of order) {
    try {
      const adapter = await register(name, opts);
      if (!(await tf.setBackend(name))) throw new Error(`TF.js could not initialise the ${name} backend`);
      await tf.ready();
      if (name === 'webgpu') patchWebGpuKernels();
      setKernelMode(opts.kernels ?? 'fused');
      return { name, requested, reason: describe(name, requested, failures, adapter), failures, adapter, kernels: activeKernels() };
    } catch (e) {
      failures.push({ name, error: e instanceof Error ? e.message : String(e) });
    }
  }
  const detail = failures.map((f) => `${f.name}: ${f.error}`).join('; ');
  throw new Error(`no TF.js backend could start (${detail})`);
}

function describe(
  name: BackendName,
  requested: BackendName | 'auto',
  failures: BackendInfo['failures'],
  adapter?: GpuAdapterSummary,
): string {
  const where = adapter ? ` on ${[adapter.vendor, adapter.architecture].filter(Boolean).join(' ') || 'an unnamed adapter'}` : '';
  if (requested !== 'auto') return `${name}${where}, as requested`;
  if (failures.length === 0) return `${name}${where}, the fastest available`;
  const why = failures.map((f) => `${f.name} unavailable: ${f.error}`).join('; ');
  return `${name}${where} (fallback — ${why})`;
}
