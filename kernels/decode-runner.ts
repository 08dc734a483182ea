// Runs the decode step's kernels (kernels/decode.ts) on tfjs-backend-webgpu with bind groups
// built once per session and reused every step. kernels/dispatch.ts serves every other kernel but
// makes fresh outputs and a fresh bind group and uniform buffer per call; a decode step instead
// writes into buffers the session owns (the KV cache, the residual stream) and changes only a
// small uniform block per step (token ids, positions, adapter flags, cache length), written with
// one queue.writeBuffer. So a step records ~5 dispatches per layer and creates nothing but the
// logits tensor.
//
// Like dispatch.ts it records into the backend's own command encoder and compute pass (so the
// decode step is ordered with the TF.js ops around it) through members that are private in
// tfjs-backend-webgpu 4.22's declarations (backend-internals.ts checks they exist).
import { tf } from '../src/engine/tf';
import { submit } from './dispatch';
import { backendInternals, type BackendInternals } from './backend-internals';

/** At most this many rows per step: the step uniform's per-row array. */
export const MAX_DECODE_ROWS = 8;

export type BindingType = 'f32' | 'vec4<f32>' | 'i32';

export interface DecodeBinding {
  name: string;
  type: BindingType;
  tensor: tf.TensorInfo;
  /** Bound read_write (written in place); otherwise read-only. */
  write?: boolean;
}

/**
 * One decode kernel: its bindings (in binding order; the step uniform follows them) and its
 * WGSL, which defines `fn main(wg : vec3<u32>, lane : i32)` and reads `step`.
 */
export interface DecodeKernel {
  name: string;
  bindings: DecodeBinding[];
  workgroupSize: number;
  dispatch: [number, number, number];
  code: string;
}

/**
 * The uniform every decode kernel reads: per row (token id, position, adapter on 0/1, first real
 * cache slot), and (slots in use including this step's token, whether any row has the adapter).
 */
const STEP_STRUCT = /* wgsl */ `
struct Step {
  row : array<vec4<i32>, ${MAX_DECODE_ROWS}>,
  len : vec4<i32>,
};`;
export const STEP_WORDS = MAX_DECODE_ROWS * 4 + 4;

/** The whole WGSL module of `k`, as compiled. */
export function decodeShaderSource(k: DecodeKernel): string {
  const lines = k.bindings.map(
    (b, i) => `@group(0) @binding(${i}) var<storage, ${b.write ? 'read_write' : 'read'}> ${b.name} : array<${b.type}>;`,
  );
  return `${STEP_STRUCT}
${lines.join('\n')}
@group(0) @binding(${k.bindings.length}) var<uniform> step : Step;

${k.code.trim()}

@compute @workgroup_size(${k.workgroupSize}, 1, 1)
fn _start(@builtin(workgroup_id) wg : vec3<u32>, @builtin(local_invocation_index) li : u32) {
  main(wg, i32(li));
}
`;
}

interface Compiled {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const pipelines = new WeakMap<GPUDevice, Map<string, Compiled>>();

function compile(device: GPUDevice, k: DecodeKernel): Compiled {
  const code = decodeShaderSource(k);
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, (cache = new Map()));
  const hit = cache.get(code);
  if (hit) return hit;
  const entries: GPUBindGroupLayoutEntry[] = [
    ...k.bindings.map((b) => ({ buffer: { type: b.write ? ('storage' as const) : ('read-only-storage' as const) } })),
    { buffer: { type: 'uniform' as const } },
  ].map((e, i) => ({ binding: i, visibility: GPUShaderStage.COMPUTE, ...e }));
  const layout = device.createBindGroupLayout({ entries, label: k.name });
  const pipeline = device.createComputePipeline({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module: device.createShaderModule({ code, label: k.name }), entryPoint: '_start' },
    label: k.name,
  });
  const compiled = { pipeline, layout };
  cache.set(code, compiled);
  return compiled;
}

/** A kernel ready to record: its pipeline and bind group. */
export interface Prepared {
  name: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  dispatch: [number, number, number];
  /** What the queue must not release before it runs. */
  dataIds: object[];
}

/** The decode kernels of one session: the step uniform, prepared kernels, and recording. */
export class DecodeRunner {
  private readonly b: BackendInternals;
  private readonly stepBuffer: GPUBuffer;

  constructor(backend: object) {
    this.b = backendInternals(backend, 'kernels/decode-runner.ts');
    const device = this.b.device;
    this.stepBuffer = device.createBuffer({ size: STEP_WORDS * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'decode step' });
  }

  get device(): GPUDevice {
    return this.b.device;
  }

  /** Compiles `k` (once per WGSL text and device) and binds its buffers and the step uniform. */
  prepare(k: DecodeKernel): Prepared {
    const storage = k.bindings.length;
    const limit = this.b.device.limits.maxStorageBuffersPerShaderStage;
    if (storage > limit) throw new Error(`${k.name}: ${storage} storage buffers exceed this device's ${limit}`);
    const max = this.b.device.limits.maxComputeWorkgroupsPerDimension;
    if (k.dispatch.some((n) => n > max)) throw new Error(`${k.name}: dispatch ${k.dispatch} exceeds ${max} workgroups per dimension`);
    const { pipeline, layout } = compile(this.b.device, k);
    const buffers = k.bindings.map((bd) => {
      this.b.uploadToGPU(bd.tensor.dataId);
      const r = this.b.tensorMap.get(bd.tensor.dataId).resource;
      if (!(r instanceof GPUBuffer)) throw new Error(`${k.name}: ${bd.name} is not in a GPU buffer`);
      return r;
    });
    const entries = [...buffers.map((buffer) => ({ buffer })), { buffer: this.stepBuffer }].map((resource, binding) => ({ binding, resource }));
    const bindGroup = this.b.device.createBindGroup({ layout, entries, label: k.name });
    return { name: k.name, pipeline, bindGroup, dispatch: k.dispatch, dataIds: k.bindings.map((bd) => bd.tensor.dataId) };
  }

  /**
   * Sets the step uniform. The work recorded so far (the previous step's kernels among it) is
   * submitted first: a queue write lands before every command buffer submitted after it.
   */
  writeStep(words: Int32Array): void {
    if (words.length !== STEP_WORDS) throw new Error(`decode step uniform: ${words.length} words, expected ${STEP_WORDS}`);
    submit(this.b);
    this.b.device.queue.writeBuffer(this.stepBuffer, 0, words.buffer, words.byteOffset, words.byteLength);
  }

  /** Records `p` into the backend's compute pass. */
  record(p: Prepared): void {
    const b = this.b;
    for (const id of p.dataIds) b.commandQueueOwnedIds.add(id);
    b.ensureCommandEncoderReady();
    if (!b.computePassEncoder) b.computePassEncoder = b.commandEncoder.beginComputePass({});
    b.computePassEncoder.setPipeline(p.pipeline);
    b.computePassEncoder.setBindGroup(0, p.bindGroup);
    b.computePassEncoder.dispatchWorkgroups(...p.dispatch);
    b.dispatchCountInPass++;
    if ((tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number) <= b.dispatchCountInPass) {
      b.endComputePassEncoder();
      b.submitQueue();
    }
  }

  /** A float32 tensor the backend allocates (for a kernel to write), as a tf.Tensor. */
  output(shape: number[]): tf.Tensor {
    const info = this.b.makeTensorInfo(shape, 'float32');
    this.b.uploadToGPU(info.dataId);
    return tf.engine().makeTensorFromTensorInfo(info);
  }

  /** Submits what is recorded, then frees the step uniform. */
  dispose(): void {
    submit(this.b);
    this.stepBuffer.destroy();
  }
}
