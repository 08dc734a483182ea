// Every shader variant (kernels/variants.ts) compiles and builds its pipeline on Dawn over
// SwiftShader, within WebGPU's default limits (a device asked for nothing more): WGSL errors
// from getCompilationInfo and pipeline validation errors, each failure named by its kernel.
import { beforeAll, describe, expect, it } from 'vitest';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import { allPrograms } from '../../kernels/variants';
import { compile } from '../../kernels/dispatch';

let device: GPUDevice;

beforeAll(async () => {
  expect(await installNodeWebGPU({ swiftshader: true })).toBe(true);
  const adapter = await navigator.gpu.requestAdapter();
  device = await adapter!.requestDevice();
});

/** The compile and validation errors of one program, as lines naming it. */
async function problems(name: string, build: () => ReturnType<typeof compile>): Promise<string[]> {
  device.pushErrorScope('validation');
  const { module } = build();
  const info = await module.getCompilationInfo();
  const validation = await device.popErrorScope();
  return [
    ...info.messages.filter((m) => m.type === 'error').map((m) => `${name}:${m.lineNum}:${m.linePos}: ${m.message}`),
    ...(validation ? [`${name}: ${validation.message}`] : []),
  ];
}

describe('every kernel variant compiles on Dawn (SwiftShader)', () => {
  const programs = allPrograms();

  it('names are unique per shader, and there are variants of every kernel', () => {
    const names = programs.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    for (const prefix of ['rmsnorm_', 'add_rmsnorm_', 'swiglu_', 'rope_qkv_', 'attn_', 'mm_', 'mm2_', 'mm_down_', 'ce_', 'sum_squares_', 'adamw']) {
      expect(names.some((n) => n.startsWith(prefix)), prefix).toBe(true);
    }
  });

  it.each(programs.map((p) => [p.name, p] as const))('%s', async (name, p) => {
    expect(await problems(name, () => compile(device, p))).toEqual([]);
  });
});
