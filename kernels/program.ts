// The glue between our WGSL and tfjs-backend-webgpu: a program object in the shape the backend's
// `runWebGPUProgram` expects (see node_modules/@tensorflow/tfjs-backend-webgpu/dist/webgpu_program.js).
//
// The backend prepends a header to `getUserCode()`: a `Uniforms` struct (NAN, INFINITY, every
// input's and the output's shape and strides, then `program.uniforms`), the output buffer
// `result` at binding 0, one read-only storage buffer per name in `variableNames` at bindings
// 1.., the uniform buffer, and the builtins as module-scope privates (`localId`, `localIndex`,
// `globalId`, `workgroupId`, `numWorkgroups`). Our WGSL therefore only defines `main`: with a
// flat dispatch layout (x only) it is `fn main(index : i32)`, otherwise `fn main()`.
//
// Pipelines are cached under `shaderKey` plus the ranks and dtypes of the tensors — not their
// sizes, which arrive as uniforms. Every compile-time constant of a shader (workgroup size,
// head size, transposes) must therefore be part of `shaderKey`.
import { tf } from '../src/engine/tf';

export type Uniform = { type: 'int32' | 'float32' | 'uint32'; data: number[] };

export interface ProgramSpec {
  /** Unique per distinct WGSL text. */
  key: string;
  inputs: string[];
  outputShape: number[];
  workgroupSize: [number, number, number];
  /** Workgroups to launch, [x, y, z]. */
  dispatch: [number, number, number];
  /** Extra uniform fields, e.g. 'rows : i32, eps : f32,' (the values go to `run` in this order). */
  uniforms?: string;
  /** True: `main(index)` gets the flat invocation index; false: `main()` and 2-D/3-D ids. */
  flat: boolean;
  code: string;
}

/** The object tfjs-backend-webgpu compiles and dispatches (its `WebGPUProgram` interface). */
class Program {
  readonly variableNames: string[];
  readonly outputShape: number[];
  shaderKey: string;
  readonly workgroupSize: [number, number, number];
  dispatch: [number, number, number];
  readonly dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  readonly uniforms?: string;
  private readonly code: string;

  constructor(s: ProgramSpec) {
    this.variableNames = s.inputs;
    this.outputShape = s.outputShape;
    this.shaderKey = `weblora_${s.key}`;
    this.workgroupSize = s.workgroupSize;
    this.dispatch = s.dispatch;
    // The layout only decides whether main() receives a flat index, and lets the backend fold a
    // too-long x dispatch into 2-D (x-only layouts), which the flat index then undoes.
    const r = s.outputShape.length;
    this.dispatchLayout = s.flat || r < 2 ? { x: s.outputShape.map((_, i) => i) } : { x: [r - 1], y: s.outputShape.slice(0, -1).map((_, i) => i) };
    if (s.uniforms) this.uniforms = s.uniforms;
    this.code = s.code;
  }

  getUserCode(): string {
    return this.code;
  }
}

/** The members of tfjs-backend-webgpu's WebGPUBackend that the kernels use. */
export interface WebGPUBackendLike {
  device: GPUDevice;
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: Uniform[], output?: tf.TensorInfo): tf.TensorInfo;
}

/** Dispatches one program; returns its float32 output. */
export function run(backend: object, spec: ProgramSpec, inputs: tf.TensorInfo[], uniforms: Uniform[] = []): tf.TensorInfo {
  if (inputs.length !== spec.inputs.length) throw new Error(`${spec.key}: ${spec.inputs.length} inputs expected, got ${inputs.length}`);
  for (const t of inputs) {
    if (t.dtype !== 'float32' && t.dtype !== 'int32') throw new Error(`${spec.key}: inputs must be float32 or int32, got ${t.dtype}`);
  }
  const b = backend as WebGPUBackendLike;
  const maxX = b.device.limits.maxComputeWorkgroupsPerDimension;
  if (!spec.flat && spec.dispatch.some((d) => d > maxX)) throw new Error(`${spec.key}: dispatch ${spec.dispatch} exceeds ${maxX}`);
  return b.runWebGPUProgram(new Program(spec), inputs, 'float32', uniforms);
}

export const i32 = (...data: number[]): Uniform => ({ type: 'int32', data });
export const f32 = (...data: number[]): Uniform => ({ type: 'float32', data });

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
