// The kernel suites (test/kernels/cases.ts) on Dawn's WebGPU over SwiftShader, in Node.
import { beforeAll, expect } from 'vitest';
import { initBackend } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import { kernelSuites } from '../kernels/cases';

beforeAll(async () => {
  expect(await installNodeWebGPU({ swiftshader: true })).toBe(true);
  expect((await initBackend({ prefer: 'webgpu' })).name).toBe('webgpu');
});

kernelSuites();
