// The GPU device TF.js's webgpu backend runs on, requested by WebLoRA rather than by the
// package: its own factory asks only for 'timestamp-query', so the kernels could never use
// subgroups, f16 or the matrix units. This one asks for every feature the kernels use that the
// adapter offers, and for the adapter's limits, as stock does.
import { tf } from './tf';

/** The optional features the kernels use, in the order they are reported. */
export const WEBGPU_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'] as const;
export type WebGpuFeature = (typeof WEBGPU_FEATURES)[number];

/** One matrix shape the adapter's matrix units multiply (Dawn: adapter.info.subgroupMatrixConfigs). */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

export interface WebGpuDeviceFeatures {
  /** Which of WEBGPU_FEATURES the device has. */
  features: WebGpuFeature[];
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
  /** The adapter's subgroup sizes, where it reports them. */
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  /** Why a feature the adapter offers is off (requestDevice refused it). */
  note?: string;
}

// The limits stock tfjs-backend-webgpu raises to the adapter's (dist/base.js).
const LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
] as const;

type AdapterInfoLike = GPUAdapterInfo & { subgroupMatrixConfigs?: Iterable<SubgroupMatrixConfig>; subgroupMinSize?: number; subgroupMaxSize?: number };

function matrixConfigs(info: AdapterInfoLike | undefined): SubgroupMatrixConfig[] {
  return [...(info?.subgroupMatrixConfigs ?? [])].map(({ componentType, resultComponentType, M, N, K }) => ({ componentType, resultComponentType, M, N, K }));
}

/** The device with every kernel feature the adapter offers; without them if the adapter refuses (some drivers list more than they grant). */
export async function requestKernelDevice(adapter: GPUAdapter): Promise<{ device: GPUDevice; summary: WebGpuDeviceFeatures }> {
  const wanted = WEBGPU_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  let device: GPUDevice;
  let note: string | undefined;
  try {
    device = await adapter.requestDevice({ requiredFeatures: wanted as GPUFeatureName[], requiredLimits });
  } catch (e) {
    note = `the adapter offers ${wanted.join(', ')} but requestDevice refused them (${e instanceof Error ? e.message : String(e)}); running without`;
    device = await adapter.requestDevice({ requiredLimits });
  }
  const info = adapter.info as AdapterInfoLike | undefined;
  const features = WEBGPU_FEATURES.filter((f) => device.features.has(f));
  return {
    device,
    summary: {
      features,
      subgroupMatrixConfigs: features.includes('chromium-experimental-subgroup-matrix') ? matrixConfigs(info) : [],
      ...(info?.subgroupMinSize ? { subgroupMinSize: info.subgroupMinSize, subgroupMaxSize: info.subgroupMaxSize } : {}),
      ...(note ? { note } : {}),
    },
  };
}

let ours = false;
let lastSummary: WebGpuDeviceFeatures | undefined;

/**
 * Replaces the package's 'webgpu' factory with one that creates the device above. Import
 * '@tensorflow/tfjs-backend-webgpu' first (it registers its own). A backend already created
 * stays: its tensors live on its device.
 */
export function registerKernelDeviceBackend(WebGPUBackend: new (device: GPUDevice, adapterInfo?: GPUAdapterInfo) => tf.KernelBackend): void {
  if (ours || tf.engine().registry.webgpu) return;
  if (tf.engine().registryFactory.webgpu) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) throw new Error('WebGPU is present but no GPU adapter is available');
      const { device, summary } = await requestKernelDevice(adapter);
      lastSummary = summary;
      return new WebGPUBackend(device, adapter.info);
    },
    3,
  );
  ours = true;
}

/** The kernel features of the running webgpu backend's device (also one TF.js made itself). */
export function deviceFeatures(): WebGpuDeviceFeatures | undefined {
  const backend = tf.engine().registry.webgpu as unknown as { device?: GPUDevice } | undefined;
  if (!backend?.device) return undefined;
  const features = WEBGPU_FEATURES.filter((f) => backend.device!.features.has(f));
  if (lastSummary && lastSummary.features.join() === features.join()) return lastSummary;
  return { features, subgroupMatrixConfigs: [] };
}
