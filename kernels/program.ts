// A kernel as one Program: its WGSL (`code`: module-scope declarations and `fn main`) and the
// declarations its header is generated from — outputs, inputs and uniforms, each an ordered
// record, so that a binding or a uniform field and its value are written once, side by side.
// `shaderSource` gives the whole module exactly as the GPU compiles it (`npm run kernels:dump`
// writes every variant's); kernels/dispatch.ts runs it.
//
// The header follows tfjs-backend-webgpu's conventions, so the WGSL reads like TF.js's own:
// the module-scope builtins `localId`, `localIndex`, `globalId`, `workgroupId`,
// `numWorkgroups`, the uniform block `uniforms`, and `fn main(index : i32)` for flat
// dispatches (the flat invocation index, also across a dispatch folded into 2-D or 3-D) or
// `fn main()` otherwise.
import type { tf } from '../src/engine/tf';

export type Uniform = { type: 'int32' | 'float32' | 'uint32'; data: [number] };
export const i32 = (v: number): Uniform => ({ type: 'int32', data: [v] });
export const f32 = (v: number): Uniform => ({ type: 'float32', data: [v] });

/** Uniform values by field name; the key order is the struct's field order. */
export type Uniforms = Record<string, Uniform>;

export interface Program {
  /** Unique per distinct WGSL text: the pipeline's cache key and label, the dump's file name. */
  name: string;
  /** Float32 buffers written, bound first (0, 1, …): name -> shape. A lone output is `result`. */
  outputs: Record<string, number[]>;
  /** Buffers read, bound after the outputs: name -> tensor (float32, or int32/bool read as i32). */
  inputs: Record<string, tf.TensorInfo>;
  uniforms: Uniforms;
  workgroupSize: [number, number, number];
  /** Workgroups to launch, [x, y, z]. */
  dispatch: [number, number, number];
  /** True: `main(index)` gets the flat invocation index; false: `main()` and 2-D/3-D ids. */
  flat: boolean;
  code: string;
  /** Float32 inputs bound as array<vec4<f32>> (16-byte loads): the caller checks each is read in aligned groups of 4. */
  vec4?: readonly string[];
  /** Int32 inputs that hold packed halves (kernels/half.ts), bound as array<f16>; needs the 'f16' extension. */
  half?: readonly string[];
  /** WGSL extensions the shader enables; with 'subgroups', main sees `subgroupLane` and `subgroupSize`. */
  extensions?: readonly ('f16' | 'subgroups' | 'chromium_experimental_subgroup_matrix')[];
}

const WGSL_TYPE: Record<Uniform['type'], string> = { int32: 'i32', float32: 'f32', uint32: 'u32' };

/** The WGSL element type a tensor's buffer is read as. */
export function elementType(t: Pick<tf.TensorInfo, 'dtype'>, where: string): 'f32' | 'i32' {
  if (t.dtype === 'float32') return 'f32';
  if (t.dtype === 'int32' || t.dtype === 'bool') return 'i32';
  throw new Error(`${where}: unsupported input dtype ${t.dtype}`);
}

/** The uniform buffer's contents in field order (WGSL needs a non-empty struct). */
export function uniformValues(p: Program): Uniform[] {
  const values = Object.values(p.uniforms);
  return values.length ? values : [i32(0)];
}

function uniformFields(p: Program): string {
  const fields = Object.entries(p.uniforms).map(([name, u]) => `${name} : ${WGSL_TYPE[u.type]},`);
  return fields.length ? fields.join(' ') : 'unused : i32,';
}

/** The whole WGSL module of `p`, as compiled. */
export function shaderSource(p: Program): string {
  const lines = [`struct Uniforms { ${uniformFields(p)} };`];
  let binding = 0;
  for (const name of Object.keys(p.outputs)) lines.push(`@group(0) @binding(${binding++}) var<storage, read_write> ${name} : array<f32>;`);
  for (const [name, t] of Object.entries(p.inputs)) {
    const type = p.half?.includes(name) && t.dtype === 'int32' ? 'f16' : p.vec4?.includes(name) && elementType(t, p.name) === 'f32' ? 'vec4<f32>' : elementType(t, p.name);
    lines.push(`@group(0) @binding(${binding++}) var<storage, read> ${name} : array<${type}>;`);
  }
  lines.push(`@group(0) @binding(${binding}) var<uniform> uniforms : Uniforms;`);
  const enables = (p.extensions ?? []).map((e) => `enable ${e};\n`).join('');
  const subgroups = p.extensions?.includes('subgroups');
  const [x, y, z] = p.workgroupSize;
  const call = p.flat
    ? `main(i32((WorkgroupId.z * NumWorkgroups.x * NumWorkgroups.y + WorkgroupId.y * NumWorkgroups.x + WorkgroupId.x) * ${x * y * z}u + LocalIndex));`
    : 'main();';
  return `${enables}${lines.join('\n')}

var<private> localId : vec3<u32>;
var<private> localIndex : u32;
var<private> globalId : vec3<u32>;
var<private> numWorkgroups : vec3<u32>;
var<private> workgroupId : vec3<u32>;
${subgroups ? 'var<private> subgroupLane : u32;\nvar<private> subgroupSize : u32;\n' : ''}
${p.code.trim()}

@compute @workgroup_size(${x}, ${y}, ${z})
fn _start(@builtin(local_invocation_id) LocalId : vec3<u32>,
          @builtin(global_invocation_id) GlobalId : vec3<u32>,
          @builtin(local_invocation_index) LocalIndex : u32,
          @builtin(workgroup_id) WorkgroupId : vec3<u32>,
          @builtin(num_workgroups) NumWorkgroups : vec3<u32>${subgroups ? ',\n          @builtin(subgroup_invocation_id) SubgroupLane : u32,\n          @builtin(subgroup_size) SubgroupSize : u32' : ''}) {
  localId = LocalId;
  localIndex = LocalIndex;
  globalId = GlobalId;
  numWorkgroups = NumWorkgroups;
  workgroupId = WorkgroupId;${subgroups ? '\n  subgroupLane = SubgroupLane;\n  subgroupSize = SubgroupSize;' : ''}
  ${call}
}
`;
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
