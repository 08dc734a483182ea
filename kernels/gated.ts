// The gated activations of the MLPs (SwiGLU, GeGLU): act(gate) · up, one lane per element,
// one dispatch forward and one for both gradients — each family supplies only its WGSL and
// its stock composition.
import { tf } from '../src/engine/tf';
import { fusedActive } from './active';
import { i32, sizeOf, type Program } from './program';
import { dispatch } from './dispatch';
import { defineGradient, defineKernel, runKernel, runKernelMulti } from './register';

const WG = 128;

function elementwise(name: string, inputs: Program['inputs'] & { G: tf.TensorInfo }, outputs: string[], code: string): Program {
  const shape = inputs.G.shape;
  const n = sizeOf(shape);
  return {
    name,
    outputs: Object.fromEntries(outputs.map((o) => [o, shape])),
    inputs,
    uniforms: { size: i32(n) },
    workgroupSize: [WG, 1, 1],
    dispatch: [Math.ceil(n / WG), 1, 1],
    flat: true,
    code,
  };
}

export interface GatedSpec {
  /** The op's name in messages and the programs' name prefix. */
  op: string;
  kernel: string;
  gradKernel: string;
  /** Reads G and U, writes `result`. */
  forwardWgsl: string;
  /** Reads G, U and DY, writes DG and DU. */
  gradWgsl: string;
  stock: (gate: tf.Tensor, up: tf.Tensor) => tf.Tensor;
}

export interface Gated {
  op: <T extends tf.Tensor>(gate: T, up: T) => T;
  program: (gate: tf.TensorInfo, up: tf.TensorInfo) => Program;
  gradProgram: (gate: tf.TensorInfo, up: tf.TensorInfo, dy: tf.TensorInfo) => Program;
}

/** Registers the kernel and its gradient, and returns the op that picks fused or stock when it runs. */
export function gatedActivation(spec: GatedSpec): Gated {
  const program = (gate: tf.TensorInfo, up: tf.TensorInfo) => elementwise(`${spec.op}_fwd`, { G: gate, U: up }, ['result'], spec.forwardWgsl);
  const gradProgram = (gate: tf.TensorInfo, up: tf.TensorInfo, dy: tf.TensorInfo) => elementwise(`${spec.op}_grad`, { G: gate, U: up, DY: dy }, ['DG', 'DU'], spec.gradWgsl);

  defineKernel(spec.kernel, ({ inputs, backend }) => dispatch(backend, program(inputs.gate, inputs.up))[0]);
  defineKernel(spec.gradKernel, ({ inputs, backend }) => dispatch(backend, gradProgram(inputs.gate, inputs.up, inputs.dy)));
  defineGradient({
    kernelName: spec.kernel,
    inputsToSave: ['gate', 'up'],
    gradFunc: (dy, saved) => {
      const [gate, up] = saved;
      // One dispatch makes both, so they are made here rather than in the thunks.
      const [dg, du] = runKernelMulti(spec.gradKernel, { gate, up, dy: dy as tf.Tensor });
      return { gate: () => dg, up: () => du };
    },
  });

  const op = <T extends tf.Tensor>(gate: T, up: T): T => {
    if (!fusedActive()) return spec.stock(gate, up) as T;
    if (!tf.util.arraysEqual(gate.shape, up.shape)) throw new Error(`${spec.op}: gate ${gate.shape} and up ${up.shape} differ in shape`);
    return runKernel(spec.kernel, { gate, up }) as T;
  };
  return { op, program, gradProgram };
}
