// Picks the TF.js backend: WebGPU, else wasm, else cpu — and says why, because a silent
// fallback to cpu turns a minute of training into an hour and the user deserves to know.
import { tf } from './tf';
import { setKernelMode, type KernelMode } from '../../kernels/mode';
import { activeKernels } from '../../kernels/active';
import { patchWebGpuKernels } from './webgpu-addn';
import { deviceFeatures, registerKernelDeviceBackend, type WebGpuFeature, type SubgroupMatrixConfig } from './webgpu-device';
import { setPrecision, type Precision, type PrecisionChoice } from '../../kernels/precision';
import { selectHalfMatmul, type FrozenMatmulPath } from '../../kernels/matmul-f16';

export type BackendName = 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['webgpu', 'wasm', 'cpu'];

export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  /** A CPU renderer (SwiftShader, lavapipe, llvmpipe…): real WebGPU, but slower than wasm. */
  software: boolean;
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
  /** Why this backend will be slow, when it will (a software GPU, the cpu backend). */
  warning?: string;
  /** WebGPU: which of the kernels' optional features the device has (webgpu-device.ts). */
  features?: WebGpuFeature[];
  /** WebGPU: the matrix shapes the adapter's matrix units multiply, where it lists any. */
  subgroupMatrixConfigs?: SubgroupMatrixConfig[];
  /** The frozen base's precision models load in (kernels/precision.ts). */
  precision: Precision;
  /** What multiplies by the frozen weights: float32 tiles, or (f16-base) the SIMT f16 or subgroup-matrix kernel. */
  frozenMatmul: FrozenMatmulPath;
  /** Why the subgroup-matrix kernel is not used where the device offers matrix units. */
  frozenMatmulNote?: string;
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
  /** Let 'auto' pick a software GPU adapter (tests that want WebGPU on SwiftShader). */
  allowSoftwareGpu?: boolean;
  /** The frozen base's precision (default 'fp32'); 'auto' takes 'f16-base' only where it runs (webgpu, shader-f16, fused kernels). */
  precision?: PrecisionChoice;
}

const SOFTWARE_RENDERERS = /swiftshader|lavapipe|llvmpipe|softpipe|microsoft basic render|\bwarp\b/i;

async function probeWebGPU(): Promise<GpuAdapterSummary> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new Error('this environment has no WebGPU (navigator.gpu is missing)');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('WebGPU is present but no GPU adapter is available');
  const info = adapter.info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  const summary = { vendor: info?.vendor ?? '', architecture: info?.architecture ?? '', description: info?.description ?? '' };
  const fallback = info?.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  return { ...summary, software: fallback || SOFTWARE_RENDERERS.test(`${summary.vendor} ${summary.architecture} ${summary.description}`) };
}

function adapterName(a: GpuAdapterSummary): string {
  return [a.vendor, a.architecture].filter(Boolean).join(' ') || a.description || 'an unnamed adapter';
}

async function register(name: BackendName, opts: BackendOptions): Promise<GpuAdapterSummary | undefined> {
  if (name === 'webgpu') {
    const adapter = await probeWebGPU();
    // Imported only now: the package decides at import time whether WebGPU exists.
    const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
    registerKernelDeviceBackend(WebGPUBackend);
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
      // Emulated on the CPU, WebGPU trains ~10× and generates ~100× slower than wasm does.
      if (adapter?.software && requested === 'auto' && !opts.allowSoftwareGpu) {
        throw new Error(`the only GPU adapter is ${adapterName(adapter)}, a software renderer that is slower than WebAssembly on this CPU (choose WebGPU to use it anyway)`);
      }
      if (!(await tf.setBackend(name))) throw new Error(`TF.js could not initialise the ${name} backend`);
      await tf.ready();
      if (name === 'webgpu') patchWebGpuKernels();
      setKernelMode(opts.kernels ?? 'fused');
      const warning = adapter?.software
        ? `${adapterName(adapter)} is a software GPU: training runs ~10× slower than WebAssembly`
        : name === 'cpu'
          ? 'the cpu backend is ~15× slower than WebAssembly for training'
          : undefined;
      const device = name === 'webgpu' ? deviceFeatures() : undefined;
      const gpu = device ? { features: device.features, ...(device.subgroupMatrixConfigs.length ? { subgroupMatrixConfigs: device.subgroupMatrixConfigs } : {}) } : {};
      const half = await choosePrecision(opts.precision ?? 'fp32', name, device?.features ?? []);
      return { name, requested, reason: describe(name, requested, failures, adapter), failures, adapter, kernels: activeKernels(), ...gpu, ...half, ...(warning ? { warning } : {}) };
    } catch (e) {
      failures.push({ name, error: e instanceof Error ? e.message : String(e) });
    }
  }
  if (failures.some((f) => f.error.startsWith(PRECISION_REFUSED))) throw new Error(failures.find((f) => f.error.startsWith(PRECISION_REFUSED))!.error);
  const detail = failures.map((f) => `${f.name}: ${f.error}`).join('; ');
  throw new Error(`no TF.js backend could start (${detail})`);
}

const PRECISION_REFUSED = 'precision f16-base';

/**
 * The frozen base's precision on the backend just started, and (f16-base) which half kernel
 * multiplies: the subgroup-matrix one where it passes its self-check on this device.
 */
async function choosePrecision(
  choice: PrecisionChoice,
  name: BackendName,
  features: readonly WebGpuFeature[],
): Promise<Pick<BackendInfo, 'precision' | 'frozenMatmul' | 'frozenMatmulNote'>> {
  const missing =
    name !== 'webgpu'
      ? `runs only on WebGPU, not ${name}`
      : !features.includes('shader-f16')
        ? "needs the GPU feature shader-f16, which this adapter does not offer (in Chrome on NVIDIA: --enable-dawn-features=vulkan_enable_f16_on_nvidia)"
        : activeKernels() !== 'fused'
          ? 'runs on the fused kernels only, not stock TF.js ops'
          : null;
  if (choice === 'fp32' || (choice === 'auto' && missing)) {
    setPrecision('fp32');
    return { precision: 'fp32', frozenMatmul: 'fp32' };
  }
  if (missing) {
    setPrecision('fp32');
    throw new Error(`${PRECISION_REFUSED} ${missing}; choose precision fp32`);
  }
  setPrecision('f16-base');
  const device = deviceFeatures();
  const picked = await selectHalfMatmul(device?.subgroupMatrixConfigs ?? [], device?.subgroupMaxSize);
  return { precision: 'f16-base', frozenMatmul: picked.path, ...(picked.why ? { frozenMatmulNote: picked.why } : {}) };
}

function describe(
  name: BackendName,
  requested: BackendName | 'auto',
  failures: BackendInfo['failures'],
  adapter?: GpuAdapterSummary,
): string {
  const where = adapter ? ` on ${adapterName(adapter)}` : '';
  if (requested !== 'auto') return `${name}${where}, as requested`;
  if (failures.length === 0) return `${name}${where}, the fastest available`;
  const why = failures.map((f) => `${f.name} not used: ${f.error}`).join('; ');
  return `${name}${where} (${why})`;
}
