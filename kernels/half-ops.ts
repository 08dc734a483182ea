// The ops that read a frozen weight stored in halves (precision 'f16-base', kernels/half.ts):
// the embedding lookup and a linear without LoRA (y = x·Wᵀ, and its input gradient dy·W).
// The LoRA linear and the lm_head cross-entropy take halves in their own files.
import { tf } from '../src/engine/tf';
import { fusedActive } from './active';
import { i32, type Program } from './program';
import { dispatch } from './dispatch';
import { defineGradient, defineKernel, noGradient, runKernel } from './register';
import { isHalf, type FrozenWeight, type HalfWeight } from './half';
import { matmulHalf, type HalfOperand } from './matmul-f16';

export const EMBED_HALF = 'WebLoraEmbeddingHalf';
export const LINEAR_HALF = 'WebLoraLinearHalf';
/** dx = dy·W with W in halves: the linear's input gradient, also the LoRA linear's. */
export const MATMUL_HALF = 'WebLoraMatmulHalf';

const WG = 256;

/** Rows `IDS` of the halves W [V, H], as float32 [n, H]. */
function embedProgram(w: tf.TensorInfo, ids: tf.TensorInfo, vocab: number, hidden: number): Program {
  const n = ids.shape.reduce((a, b) => a * b, 1);
  return {
    name: 'embed_half',
    outputs: { result: [n, hidden] },
    inputs: { W: w, IDS: ids },
    half: ['W'],
    extensions: ['f16'],
    uniforms: { size: i32(n * hidden), hidden: i32(hidden), vocab: i32(vocab) },
    workgroupSize: [WG, 1, 1],
    dispatch: [Math.ceil((n * hidden) / WG), 1, 1],
    flat: true,
    code: /* wgsl */ `
fn main(index : i32) {
  if (index < uniforms.size) {
    let id = IDS[index / uniforms.hidden];
    var v = 0.0;
    if (id >= 0 && id < uniforms.vocab) { v = f32(W[id * uniforms.hidden + index % uniforms.hidden]); }
    result[index] = v;
  }
}`,
  };
}

/** Halves of the kernel input `w` with the shape `attrs.wShape`. */
export const halfOperand = (w: tf.TensorInfo, attrs: tf.NamedAttrMap): HalfOperand => {
  const [rows, cols] = attrs.wShape as number[];
  return { t: w, rows, cols };
};

defineKernel(EMBED_HALF, ({ inputs, backend, attrs }) => {
  const [vocab, hidden] = attrs.wShape as number[];
  return dispatch(backend, embedProgram(inputs.w, inputs.ids, vocab, hidden))[0];
});

defineKernel(LINEAR_HALF, ({ inputs, backend, attrs }) => matmulHalf(backend, inputs.x, halfOperand(inputs.w, attrs), true));

defineKernel(MATMUL_HALF, ({ inputs, backend, attrs }) => {
  const lora = 'p2' in inputs ? { p: inputs.p2, q: inputs.q2, transQ: attrs.transQ2 === true, alpha: attrs.alpha2 as number } : undefined;
  return matmulHalf(backend, inputs.p1, halfOperand(inputs.w, attrs), attrs.transW === true, (attrs.alpha1 as number | undefined) ?? 1, lora, 'acc' in inputs ? inputs.acc : undefined);
});

defineGradient({
  kernelName: LINEAR_HALF,
  inputsToSave: ['w'],
  gradFunc: (dy, saved, attrs) => {
    const [w] = saved;
    return {
      x: () => runKernel(MATMUL_HALF, { p1: dy as tf.Tensor, w }, { wShape: attrs.wShape as number[], transW: false }),
      w: noGradient(LINEAR_HALF, 'w'),
    };
  },
});

export function needsFused(what: string, w: HalfWeight): void {
  if (!fusedActive()) {
    throw new Error(`${what}: ${w.name} is stored in float16 (precision f16-base), which runs only on the webgpu backend with the fused kernels (kernel mode "fused")`);
  }
}

/** Rows `ids` of the embedding matrix, [...ids.shape, hidden]. */
export function embedding(w: FrozenWeight, ids: tf.Tensor): tf.Tensor {
  if (!isHalf(w)) return tf.gather(w, ids);
  needsFused('embedding', w);
  const out = runKernel(EMBED_HALF, { w: w.packed, ids: ids.dtype === 'int32' ? ids : ids.toInt() }, { wShape: w.shape });
  return out.reshape([...ids.shape, w.shape[1]]);
}

/** x [..., in] · Wᵀ for W [out, in] in halves (no bias, no LoRA: kernels/linear.ts adds those). */
export function linearHalf(x: tf.Tensor, w: HalfWeight): tf.Tensor {
  needsFused('linear', w);
  const [out, inW] = w.shape;
  const inF = x.shape[x.rank - 1];
  if (inW !== inF) throw new Error(`linear: x ${x.shape} does not fit ${w.name} [${w.shape}]`);
  const y = runKernel(LINEAR_HALF, { x: x.reshape([-1, inF]), w: w.packed }, { wShape: w.shape });
  return y.reshape([...x.shape.slice(0, -1), out]);
}

