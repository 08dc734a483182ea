// WebLoRA creates TF.js's WebGPU device itself (src/engine/webgpu-device.ts), asking for every
// feature the kernels use that the adapter offers. On SwiftShader: subgroups and timestamps, no
// f16 (lavapipe's device, with f16, is checked in f16-lavapipe.test.ts, a process of its own).
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend, type BackendInfo } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import { requestKernelDevice, WEBGPU_FEATURES } from '../../src/engine/webgpu-device';

let info: BackendInfo;
let offered: string[];

beforeAll(async () => {
  expect(await installNodeWebGPU({ swiftshader: true })).toBe(true);
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  offered = WEBGPU_FEATURES.filter((f) => adapter!.features.has(f));
  info = await initBackend({ prefer: 'webgpu' });
});

describe("the webgpu backend's device (SwiftShader)", () => {
  it('has every kernel feature the adapter offers, and says so in BackendInfo.features', () => {
    expect(info.name).toBe('webgpu');
    expect(offered).toEqual(expect.arrayContaining(['subgroups', 'timestamp-query']));
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    for (const f of offered) expect(device.features.has(f), f).toBe(true);
    expect(info.features).toEqual(offered);
    expect(info.features).not.toContain('shader-f16');
    expect(info.subgroupMatrixConfigs).toBeUndefined();
  });

  it("has the adapter's storage binding and workgroup limits, not WebGPU's defaults", async () => {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    // SwiftShader: 1 GiB bindings (default 128 MiB), 32 KiB workgroup memory (default 16 KiB).
    expect(device.limits.maxStorageBufferBindingSize).toBe(adapter!.limits.maxStorageBufferBindingSize);
    expect(device.limits.maxStorageBufferBindingSize).toBeGreaterThan(128 * 2 ** 20);
    expect(device.limits.maxComputeWorkgroupStorageSize).toBe(adapter!.limits.maxComputeWorkgroupStorageSize);
  });

  it('falls back to a device without the features when requestDevice refuses them', async () => {
    const adapter = (await navigator.gpu.requestAdapter())!;
    const asked: GPUDeviceDescriptor[] = [];
    const refusing = new Proxy(adapter, {
      get(target, key) {
        if (key === 'requestDevice') {
          return (d: GPUDeviceDescriptor) => {
            asked.push(d);
            if ([...(d.requiredFeatures ?? [])].length) return Promise.reject(new Error('feature not granted'));
            return target.requestDevice(d);
          };
        }
        const v = Reflect.get(target, key, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const { device, summary } = await requestKernelDevice(refusing);
    expect(asked.length).toBe(2);
    expect(summary.features).toEqual([]);
    expect(summary.note).toMatch(/refused.*feature not granted/);
    expect(device.features.has('subgroups')).toBe(false);
    device.destroy();
  });
});
