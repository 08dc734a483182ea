// Programs with several outputs. tfjs-backend-webgpu's runWebGPUProgram binds exactly one
// output (`result`), so kernels that write two tensors in one pass — dA and dB of a LoRA
// linear, dK and dV of attention, both SwiGLU gradients — go through this runner instead. It
// builds the shader header itself but keeps the backend's conventions (the same module-scope
// builtins `localId`, `localIndex`, `globalId`, `workgroupId`, `numWorkgroups`, and `main()` or
// `main(index)`), so the WGSL reads like the single-output kernels; outputs are named in the
// spec instead of `result`.
//
// It records into the backend's own command encoder and compute pass, with the backend's
// buffer bookkeeping — which means touching members that are private in the TypeScript
// declarations of tfjs-backend-webgpu 4.22 (commandEncoder, computePassEncoder,
// commandQueueOwnedIds, dispatchCountInPass, makeUniforms). `checkBackend` verifies they exist
// so that a TF.js upgrade that changes them fails loudly rather than corrupting memory.
// Kernels run this way are not timed by tf.time() (their dispatches are counted as usual).
import { tf } from '../src/engine/tf';
import type { ProgramSpec, Uniform } from './program';

export interface MultiSpec extends Omit<ProgramSpec, 'outputShape' | 'inputs'> {
  inputs: string[];
  outputs: { name: string; shape: number[] }[];
}

interface TensorData {
  resource: GPUBuffer | null;
  dtype: tf.DataType;
}

interface Internals {
  device: GPUDevice;
  tensorMap: { get(id: object): TensorData };
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  uploadToGPU(id: object): void;
  makeUniforms(u: Uniform[]): GPUBufferBinding;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandEncoder: GPUCommandEncoder;
  computePassEncoder: GPUComputePassEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
}

const REQUIRED = ['tensorMap', 'makeTensorInfo', 'uploadToGPU', 'makeUniforms', 'ensureCommandEncoderReady', 'endComputePassEncoder', 'submitQueue', 'commandQueueOwnedIds', 'dispatchCountInPass'];

function checkBackend(backend: object): Internals {
  const b = backend as Record<string, unknown>;
  const missing = REQUIRED.filter((k) => b[k] === undefined);
  if (missing.length) throw new Error(`kernels/multi.ts: this tfjs-backend-webgpu lacks ${missing.join(', ')}; the multi-output runner needs updating`);
  return backend as unknown as Internals;
}

const pipelines = new WeakMap<GPUDevice, Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>>();

function header(spec: MultiSpec, inputTypes: string[]): string {
  const fields = spec.uniforms?.trim() ? spec.uniforms : 'unused : i32,';
  const lines = [`struct Uniforms { ${fields} };`];
  let binding = 0;
  for (const o of spec.outputs) lines.push(`@group(0) @binding(${binding++}) var<storage, read_write> ${o.name} : array<f32>;`);
  spec.inputs.forEach((name, i) => lines.push(`@group(0) @binding(${binding++}) var<storage, read> ${name} : array<${inputTypes[i]}>;`));
  lines.push(`@group(0) @binding(${binding}) var<uniform> uniforms : Uniforms;`);
  const [x, y, z] = spec.workgroupSize;
  lines.push(`
var<private> localId : vec3<u32>;
var<private> localIndex : u32;
var<private> globalId : vec3<u32>;
var<private> numWorkgroups : vec3<u32>;
var<private> workgroupId : vec3<u32>;
`);
  const start = `
@compute @workgroup_size(${x}, ${y}, ${z})
fn _start(@builtin(local_invocation_id) LocalId : vec3<u32>,
          @builtin(global_invocation_id) GlobalId : vec3<u32>,
          @builtin(local_invocation_index) LocalIndex : u32,
          @builtin(workgroup_id) WorkgroupId : vec3<u32>,
          @builtin(num_workgroups) NumWorkgroups : vec3<u32>) {
  localId = LocalId;
  localIndex = LocalIndex;
  globalId = GlobalId;
  numWorkgroups = NumWorkgroups;
  workgroupId = WorkgroupId;
  ${
    spec.flat
      ? `main(i32((WorkgroupId.z * NumWorkgroups.x * NumWorkgroups.y + WorkgroupId.y * NumWorkgroups.x + WorkgroupId.x) * ${x * y * z}u + LocalIndex));`
      : 'main();'
  }
}`;
  return `${lines.join('\n')}\n${spec.code}\n${start}`;
}

/** A flat dispatch too long for one dimension folds into 2-D or 3-D (main(index) undoes it). */
function foldDispatch(d: [number, number, number], max: number, flat: boolean, key: string): [number, number, number] {
  if (d.every((n) => n <= max)) return d;
  if (!flat || d[1] !== 1 || d[2] !== 1) throw new Error(`${key}: dispatch ${d} exceeds ${max} workgroups per dimension`);
  const sq = Math.ceil(Math.sqrt(d[0]));
  if (sq <= max) return [sq, sq, 1];
  const cb = Math.ceil(Math.cbrt(d[0]));
  return [cb, cb, cb];
}

/** Dispatches one program that writes every output in `spec.outputs`; returns them in order. */
export function runMulti(backend: object, spec: MultiSpec, inputs: tf.TensorInfo[], uniforms: Uniform[] = []): tf.TensorInfo[] {
  const b = checkBackend(backend);
  if (inputs.length !== spec.inputs.length) throw new Error(`${spec.key}: ${spec.inputs.length} inputs expected, got ${inputs.length}`);
  const storage = spec.outputs.length + inputs.length;
  if (storage > b.device.limits.maxStorageBuffersPerShaderStage) {
    throw new Error(`${spec.key}: ${storage} storage buffers exceed this device's ${b.device.limits.maxStorageBuffersPerShaderStage}`);
  }
  const inputTypes = inputs.map((t) => {
    const dtype = b.tensorMap.get(t.dataId).dtype;
    if (dtype === 'float32') return 'f32';
    if (dtype === 'int32' || dtype === 'bool') return 'i32';
    throw new Error(`${spec.key}: unsupported input dtype ${dtype}`);
  });
  const outputs = spec.outputs.map((o) => b.makeTensorInfo(o.shape, 'float32'));
  for (const t of [...outputs, ...inputs]) b.uploadToGPU(t.dataId);

  let cache = pipelines.get(b.device);
  if (!cache) pipelines.set(b.device, (cache = new Map()));
  const key = `${spec.key}|${inputTypes.join(',')}|${spec.workgroupSize}|${spec.flat}`;
  let entry = cache.get(key);
  if (!entry) {
    const entries: GPUBindGroupLayoutEntry[] = [
      ...spec.outputs.map(() => ({ buffer: { type: 'storage' as const } })),
      ...inputs.map(() => ({ buffer: { type: 'read-only-storage' as const } })),
      { buffer: { type: 'uniform' as const } },
    ].map((e, i) => ({ binding: i, visibility: GPUShaderStage.COMPUTE, ...e }));
    const layout = b.device.createBindGroupLayout({ entries, label: spec.key });
    const module = b.device.createShaderModule({ code: header(spec, inputTypes), label: spec.key });
    const pipeline = b.device.createComputePipeline({
      layout: b.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: '_start' },
      label: spec.key,
    });
    cache.set(key, (entry = { pipeline, layout }));
  }

  const buffer = (t: tf.TensorInfo) => {
    const r = b.tensorMap.get(t.dataId).resource;
    if (!(r instanceof GPUBuffer)) throw new Error(`${spec.key}: tensor is not in a GPU buffer`);
    return { buffer: r };
  };
  const resources: GPUBindingResource[] = [...outputs.map(buffer), ...inputs.map(buffer), b.makeUniforms(uniforms.length ? uniforms : [{ type: 'int32', data: [0] }])];
  for (const t of [...outputs, ...inputs]) b.commandQueueOwnedIds.add(t.dataId);
  const bindGroup = b.device.createBindGroup({ layout: entry.layout, entries: resources.map((resource, binding) => ({ binding, resource })) });

  const dispatch = foldDispatch(spec.dispatch, b.device.limits.maxComputeWorkgroupsPerDimension, spec.flat, spec.key);
  b.ensureCommandEncoderReady();
  if (!b.computePassEncoder) b.computePassEncoder = b.commandEncoder.beginComputePass({});
  b.computePassEncoder.setPipeline(entry.pipeline);
  b.computePassEncoder.setBindGroup(0, bindGroup);
  b.computePassEncoder.dispatchWorkgroups(...dispatch);
  b.dispatchCountInPass++;
  if ((tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number) <= b.dispatchCountInPass) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
  return outputs;
}
