// Prints the WebGPU adapter Dawn gives this process (vendor, architecture, description, limits)
// and exits 3 when it is a software one (SwiftShader, lavapipe, llvmpipe: CPU emulation, whose
// figures say nothing about the GPU) unless ALLOW_SOFTWARE=1, 4 when there is none. run.sh calls
// it before the benchmark, so a machine whose Vulkan driver was not found fails at once and
// loudly instead of producing hours of meaningless numbers. Plain JS: it needs only `webgpu`.
const SOFTWARE_GPU = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render/i; // as bench/lib/measure.ts

const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) {
  console.error('adapter.mjs: NO WebGPU ADAPTER (Dawn found no Vulkan device: check the loader and VK_DRIVER_FILES)');
  process.exit(4);
}
const i = adapter.info;
const l = adapter.limits;
const info = {
  vendor: i.vendor,
  architecture: i.architecture,
  device: i.device,
  description: i.description,
  isFallbackAdapter: i.isFallbackAdapter,
  limits: {
    maxBufferSize: l.maxBufferSize,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
  },
  features: [...adapter.features].sort(),
};
console.log(JSON.stringify(info, null, 2));
const label = [i.vendor, i.architecture, i.device, i.description].join(' ');
if (SOFTWARE_GPU.test(label) || i.isFallbackAdapter === true) {
  const allowed = process.env.ALLOW_SOFTWARE === '1';
  console.error(`adapter.mjs: SOFTWARE ADAPTER (${label.trim()})${allowed ? ': allowed by ALLOW_SOFTWARE=1' : ': refusing (ALLOW_SOFTWARE=1 to accept)'}`);
  process.exit(allowed ? 0 : 3);
}
// Dawn keeps the process alive otherwise.
process.exit(0);
