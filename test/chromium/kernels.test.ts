// The kernel suites (test/kernels/cases.ts) in headless Chromium, on the browser's own WebGPU
// (SwiftShader here): Chromium's WGSL compiler and limits, not Dawn-in-Node's. Run by Vitest's
// browser mode (the `chromium` project of vitest.config.ts).
import { beforeAll, expect } from 'vitest';
import { initBackend } from '../../src/engine/backend';
import { kernelSuites } from '../kernels/cases';

beforeAll(async () => {
  const adapter = await navigator.gpu.requestAdapter();
  expect(adapter, 'Chromium offers a WebGPU adapter').toBeTruthy();
  console.log(`Chromium WebGPU adapter: ${adapter!.info.vendor} ${adapter!.info.architecture}`);
  expect((await initBackend({ prefer: 'webgpu' })).name).toBe('webgpu');
});

kernelSuites();
