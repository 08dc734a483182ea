// Runs a Program (kernels/program.ts) on tfjs-backend-webgpu. The backend's public
// `runWebGPUProgram` binds exactly one output and writes its own header, so every kernel —
// one output or several — goes through this runner instead: the shader is exactly
// `shaderSource(program)`, the text `npm run kernels:dump` shows.
//
// It records into the backend's own command encoder and compute pass, with the backend's
// buffer bookkeeping — which means touching members that are private in the TypeScript
// declarations of tfjs-backend-webgpu 4.22 (commandEncoder, computePassEncoder,
// commandQueueOwnedIds, dispatchCountInPass, makeUniforms), checked by backend-internals.ts.
// Kernels run this way are not timed by tf.time() (their dispatches are counted as usual).
import { tf } from '../src/engine/tf';
import { elementType, shaderSource, uniformValues, type Program } from './program';
import { backendInternals } from './backend-internals';

interface Compiled {
  module: GPUShaderModule;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const pipelines = new WeakMap<GPUDevice, Map<string, Compiled>>();

/** Compiles `p` on `device`: a bind group layout of its outputs, inputs and uniforms, and the pipeline. */
export function compile(device: GPUDevice, p: Program): Compiled {
  const entries: GPUBindGroupLayoutEntry[] = [
    ...Object.keys(p.outputs).map(() => ({ buffer: { type: 'storage' as const } })),
    ...Object.keys(p.inputs).map(() => ({ buffer: { type: 'read-only-storage' as const } })),
    { buffer: { type: 'uniform' as const } },
  ].map((e, i) => ({ binding: i, visibility: GPUShaderStage.COMPUTE, ...e }));
  const layout = device.createBindGroupLayout({ entries, label: p.name });
  const module = device.createShaderModule({ code: shaderSource(p), label: p.name });
  const pipeline = device.createComputePipeline({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: '_start' },
    label: p.name,
  });
  return { module, pipeline, layout };
}

/** A flat dispatch too long for one dimension folds into 2-D or 3-D (main(index) undoes it). */
function foldDispatch(d: [number, number, number], max: number, flat: boolean, name: string): [number, number, number] {
  if (d.every((n) => n <= max)) return d;
  if (!flat || d[1] !== 1 || d[2] !== 1) throw new Error(`${name}: dispatch ${d} exceeds ${max} workgroups per dimension`);
  const sq = Math.ceil(Math.sqrt(d[0]));
  if (sq <= max) return [sq, sq, 1];
  const cb = Math.ceil(Math.cbrt(d[0]));
  return [cb, cb, cb];
}

/** Dispatches `p`; returns its outputs in declaration order. */
export function dispatch(backend: object, p: Program): tf.TensorInfo[] {
  const b = backendInternals(backend, 'kernels/dispatch.ts');
  const inputs = Object.values(p.inputs);
  const storage = Object.keys(p.outputs).length + inputs.length;
  if (storage > b.device.limits.maxStorageBuffersPerShaderStage) {
    throw new Error(`${p.name}: ${storage} storage buffers exceed this device's ${b.device.limits.maxStorageBuffersPerShaderStage}`);
  }
  for (const t of inputs) {
    if (elementType(t, p.name) !== elementType(b.tensorMap.get(t.dataId), p.name)) throw new Error(`${p.name}: a ${t.dtype} input is stored as ${b.tensorMap.get(t.dataId).dtype}`);
  }
  const outputs = Object.values(p.outputs).map((shape) => b.makeTensorInfo(shape, 'float32'));
  for (const t of [...outputs, ...inputs]) b.uploadToGPU(t.dataId);

  let cache = pipelines.get(b.device);
  if (!cache) pipelines.set(b.device, (cache = new Map()));
  // The name fixes the WGSL but for the input element types, which follow the tensors.
  const key = `${p.name}|${inputs.map((t) => t.dtype).join(',')}`;
  let compiled = cache.get(key);
  if (!compiled) cache.set(key, (compiled = compile(b.device, p)));

  const buffer = (t: tf.TensorInfo) => {
    const r = b.tensorMap.get(t.dataId).resource;
    if (!(r instanceof GPUBuffer)) throw new Error(`${p.name}: tensor is not in a GPU buffer`);
    return { buffer: r };
  };
  const resources: GPUBindingResource[] = [...outputs.map(buffer), ...inputs.map(buffer), b.makeUniforms(uniformValues(p))];
  for (const t of [...outputs, ...inputs]) b.commandQueueOwnedIds.add(t.dataId);
  const bindGroup = b.device.createBindGroup({ layout: compiled.layout, entries: resources.map((resource, binding) => ({ binding, resource })) });

  const workgroups = foldDispatch(p.dispatch, b.device.limits.maxComputeWorkgroupsPerDimension, p.flat, p.name);
  b.ensureCommandEncoderReady();
  if (!b.computePassEncoder) b.computePassEncoder = b.commandEncoder.beginComputePass({});
  b.computePassEncoder.setPipeline(compiled.pipeline);
  b.computePassEncoder.setBindGroup(0, bindGroup);
  b.computePassEncoder.dispatchWorkgroups(...workgroups);
  b.dispatchCountInPass++;
  if ((tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number) <= b.dispatchCountInPass) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
  return outputs;
}

/**
 * Submits the work recorded so far. Buffers disposed while the queue still owned them are held
 * by the backend until the next submit; a kernel that frees a large buffer and then makes
 * another of the same size (the cross-entropy's backward chunks) submits in between, so the
 * pool hands the first one back instead of allocating the second beside it.
 */
export function submit(backend: object): void {
  const b = backendInternals(backend, 'kernels/dispatch.ts');
  b.endComputePassEncoder();
  if (b.commandEncoder) b.submitQueue();
}
