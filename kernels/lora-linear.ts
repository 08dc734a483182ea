// The fused LoRA linear y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ, with W [out, in] frozen, A [r, in], B [out, r];
// kernels/linear.ts decides when it runs.
//
// Forward, two dispatches: u = x·Aᵀ ([N, r], kept for the backward), then y = x·Wᵀ + s·u·Bᵀ in
// one pass of the two-segment matmul — the low-rank term rides along as r extra steps of the
// frozen matmul's K loop instead of three more kernels and an [N, out] intermediate.
// (Stock: matMul, matMul, matMul, mul, add.)
//
// Backward, three dispatches and no dW:
//   du = s·dy·B        [N, r]
//   dx = dy·W + du·A   [N, in]   (one two-segment pass)
//   dA = duᵀ·x         [r, in]   } one grouped dispatch (two outputs)
//   dB = s·dyᵀ·u       [out, r]  }
// With LoRA dropout the low-rank branch reads xd = dropout(x) instead of x: u = xd·Aᵀ,
// dA = duᵀ·xd, and the input gradient splits into dx = dy·W and dxd = du·A.
//
// `loraLinearGroupFused` runs 2 or 3 LoRA linears of one input (gate/up, q/k/v) as one op: all the
// u_p = x·A_pᵀ in one dispatch, then one pass per y_p; backward, the du_p two to a dispatch,
// dx = Σ_p dy_p·W_p + du_p·A_p accumulated pass by pass (no gradient adds), dA_p with dB_p.
import { tf } from '../src/engine/tf';
import { groupedMatmul, loraDown, matmul, plain, transposed } from './matmul';
import { defineGradient, defineKernel, noGradient, runKernel, runKernelMulti } from './register';
import { isHalf, type FrozenWeight } from './half';
import { MATMUL_HALF, needsFused } from './half-ops';
import { matmulHalf } from './matmul-f16';

export const LORA_LINEAR = 'WebLoraLoraLinear';
export const LORA_LINEAR_DROPOUT = 'WebLoraLoraLinearDropout';
/** dx = dy·W + du·A (also dy·W alone, or du·A alone, via attrs). */
export const LORA_MATMUL = 'WebLoraMatmul';
/** [dA, dB] = [duᵀ·xd, s·dyᵀ·u]. */
export const LORA_GRAD_AB = 'WebLoraLoraGradAB';
/** [du0, du1] = [s·dy0·B0, s·dy1·B1]. */
export const LORA_GRAD_U2 = 'WebLoraLoraGradU2';
/** By the number of parts: the 2-part (gate/up) and 3-part (q/k/v) kernels. */
export const LORA_LINEAR_GROUP: Record<number, string> = { 2: 'WebLoraLoraLinearGroup2', 3: 'WebLoraLoraLinearGroup3' };

/** y = x·Wᵀ + s·u·Bᵀ in one pass; W is halves when `wShape` gives its shape (precision f16-base). */
function frozenPlusLow(backend: object, x: tf.TensorInfo, w: tf.TensorInfo, u: tf.TensorInfo, b: tf.TensorInfo, s: number, wShape: number[] | undefined): tf.TensorInfo {
  if (wShape) return matmulHalf(backend, x, { t: w, rows: wShape[0], cols: wShape[1] }, true, 1, { p: u, q: b, transQ: true, alpha: s });
  return matmul(backend, { p: plain(x), q: transposed(w), alpha: 1 }, { p: plain(u), q: transposed(b), alpha: s });
}

function forward(backend: object, x: tf.TensorInfo, xd: tf.TensorInfo, w: tf.TensorInfo, a: tf.TensorInfo, b: tf.TensorInfo, attrs: tf.NamedAttrMap): tf.TensorInfo[] {
  const u = matmul(backend, { p: plain(xd), q: transposed(a), alpha: 1 });
  return [frozenPlusLow(backend, x, w, u, b, attrs.scaling as number, attrs.wShape as number[] | undefined), u];
}

defineKernel(LORA_LINEAR, ({ inputs, backend, attrs }) => {
  const { x, w, a, b } = inputs;
  return forward(backend, x, x, w, a, b, attrs);
});

defineKernel(LORA_LINEAR_DROPOUT, ({ inputs, backend, attrs }) => {
  const { x, xd, w, a, b } = inputs;
  return forward(backend, x, xd, w, a, b, attrs);
});

// A general entry to the matmul for the gradients: inputs p1, q1 (and p2, q2), attrs with the
// transposes and scales. Gradients of gradients are not needed.
defineKernel(LORA_MATMUL, ({ inputs, backend, attrs }) => {
  const op = (name: string, trans: unknown) => ({ t: inputs[name], trans: trans === true });
  const t1 = { p: op('p1', attrs.transP1), q: op('q1', attrs.transQ1), alpha: attrs.alpha1 as number };
  const t2 = 'p2' in inputs ? { p: op('p2', attrs.transP2), q: op('q2', attrs.transQ2), alpha: attrs.alpha2 as number } : undefined;
  return matmul(backend, t1, t2, 'acc' in inputs ? inputs.acc : undefined);
});

defineKernel(LORA_GRAD_U2, ({ inputs, backend, attrs }) => {
  const s = attrs.scaling as number;
  return groupedMatmul(backend, { p: plain(inputs.dy0), q: plain(inputs.b0), alpha: s }, { p: plain(inputs.dy1), q: plain(inputs.b1), alpha: s });
});

defineKernel(LORA_GRAD_AB, ({ inputs, backend, attrs }) => {
  const { du, xd, dy, u } = inputs;
  return groupedMatmul(backend, { p: transposed(du), q: plain(xd), alpha: 1 }, { p: transposed(dy), q: plain(u), alpha: attrs.scaling as number });
});

interface Term {
  p: tf.Tensor;
  q: tf.Tensor;
  transP?: boolean;
  transQ?: boolean;
  alpha?: number;
}

function mm(t1: Term, t2?: Term, acc?: tf.Tensor): tf.Tensor {
  const inputs: Record<string, tf.Tensor> = { p1: t1.p, q1: t1.q, ...(acc ? { acc } : {}) };
  const attrs: tf.NamedAttrMap = { transP1: !!t1.transP, transQ1: !!t1.transQ, alpha1: t1.alpha ?? 1 };
  if (t2) {
    Object.assign(inputs, { p2: t2.p, q2: t2.q });
    Object.assign(attrs, { transP2: !!t2.transP, transQ2: !!t2.transQ, alpha2: t2.alpha ?? 1 });
  }
  return runKernel(LORA_MATMUL, inputs, attrs);
}

/** dy·W [+ du·A] [+ acc]: the input gradient, with W in halves when `wShape` is given. */
function inputGrad(dy: tf.Tensor, w: tf.Tensor, wShape: unknown, low?: { du: tf.Tensor; a: tf.Tensor }, acc?: tf.Tensor): tf.Tensor {
  if (!wShape) return mm({ p: dy, q: w }, low && { p: low.du, q: low.a }, acc);
  const inputs: Record<string, tf.Tensor> = { p1: dy, w, ...(low ? { p2: low.du, q2: low.a } : {}), ...(acc ? { acc } : {}) };
  return runKernel(MATMUL_HALF, inputs, { wShape: wShape as number[], transW: false, transQ2: false, alpha2: 1 });
}

function gradients(dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap, dropout: boolean) {
  // The engine hands the internal output u a host-side zero gradient; the op never
  // exposes u, so it is ignored (and never uploaded).
  const [dy] = dys as tf.Tensor[];
  // Saved: the low-rank branch's input (xd, which is x without dropout), w, a, b, then u.
  const [xd, w, a, b, u] = saved;
  const s = attrs.scaling as number;
  const g = dy;
  // du is shared by dx and dA; it lives until the gradient pass ends.
  const du = mm({ p: g, q: b, alpha: s });
  // dA and dB come from one dispatch, so both are made here rather than in their thunks.
  const [da, db] = runKernelMulti(LORA_GRAD_AB, { du, xd, dy: g, u }, { scaling: s });
  const grads: Record<string, () => tf.Tensor> = {
    w: noGradient(LORA_LINEAR, 'w'),
    a: () => da,
    b: () => db,
  };
  if (dropout) {
    grads.x = () => inputGrad(g, w, attrs.wShape);
    grads.xd = () => mm({ p: du, q: a });
  } else {
    grads.x = () => inputGrad(g, w, attrs.wShape, { du, a });
  }
  return grads;
}

defineGradient({
  kernelName: LORA_LINEAR,
  inputsToSave: ['x', 'w', 'a', 'b'],
  outputsToSave: [false, true],
  gradFunc: (dys, saved, attrs) => gradients(dys, saved, attrs, false),
});

defineGradient({
  kernelName: LORA_LINEAR_DROPOUT,
  inputsToSave: ['xd', 'w', 'a', 'b'],
  outputsToSave: [false, true],
  gradFunc: (dys, saved, attrs) => gradients(dys, saved, attrs, true),
});

/**
 * x·Wᵀ + s·(xd·Aᵀ)·Bᵀ for x [..., in], W [out, in], A [r, in], B [out, r]; `xd` is the
 * dropped-out x the low-rank branch reads (default: x itself). Returns [..., out]. Called by
 * kernels/linear.ts, which decides when the fused kernels run.
 */
export function loraLinearFused(x: tf.Tensor, weight: FrozenWeight, a: tf.Tensor, b: tf.Tensor, scaling: number, xd: tf.Tensor = x): tf.Tensor {
  const inF = x.shape[x.rank - 1];
  const [out, inW] = weight.shape;
  if (inW !== inF || a.shape[1] !== inF || b.shape[0] !== out || a.shape[0] !== b.shape[1]) {
    throw new Error(`loraLinear: x ${x.shape}, W ${weight.shape}, A ${a.shape}, B ${b.shape} do not fit`);
  }
  if (isHalf(weight)) needsFused('loraLinear', weight);
  const w = isHalf(weight) ? weight.packed : weight;
  const attrs: tf.NamedAttrMap = isHalf(weight) ? { scaling, wShape: weight.shape } : { scaling };
  const flat = x.reshape([-1, inF]);
  const [y, u] =
    xd === x
      ? runKernelMulti(LORA_LINEAR, { x: flat, w, a, b }, attrs)
      : runKernelMulti(LORA_LINEAR_DROPOUT, { x: flat, xd: xd.reshape([-1, inF]), w, a, b }, attrs);
  u.dispose();
  return y.reshape([...x.shape.slice(0, -1), out]);
}

// ---- 2 or 3 LoRA linears sharing their input ----

/** Part p's [out, in] when the group's weights are halves (attrs.wShapes: every part's, flat). */
const halfShape = (attrs: tf.NamedAttrMap, p: number): number[] | undefined => {
  const s = attrs.wShapes as number[] | undefined;
  return s ? [s[2 * p], s[2 * p + 1]] : undefined;
};

const groupInputs = (parts: number) => ['x', ...Array.from({ length: parts }, (_, p) => [`w${p}`, `a${p}`, `b${p}`]).flat()];

for (const parts of [2, 3]) {
  defineKernel(LORA_LINEAR_GROUP[parts], ({ inputs, backend, attrs }) => {
    const s = attrs.scaling as number;
    const x = inputs.x;
    const us = loraDown(
      backend,
      x,
      Array.from({ length: parts }, (_, p) => inputs[`a${p}`]),
    );
    const ys = us.map((u, p) => frozenPlusLow(backend, x, inputs[`w${p}`], u, inputs[`b${p}`], s, halfShape(attrs, p)));
    return [...ys, ...us];
  });

  defineGradient({
    kernelName: LORA_LINEAR_GROUP[parts],
    inputsToSave: groupInputs(parts),
    outputsToSave: [...new Array(parts).fill(false), ...new Array(parts).fill(true)],
    gradFunc: (dys, saved, attrs) => {
      const s = attrs.scaling as number;
      const dy = (dys as tf.Tensor[]).slice(0, parts);
      const x = saved[0];
      const w = (p: number) => saved[1 + 3 * p];
      const a = (p: number) => saved[2 + 3 * p];
      const b = (p: number) => saved[3 + 3 * p];
      const u = (p: number) => saved[1 + 3 * parts + p];
      const du = runKernelMulti(LORA_GRAD_U2, { dy0: dy[0], b0: b(0), dy1: dy[1], b1: b(1) }, { scaling: s });
      if (parts === 3) du.push(mm({ p: dy[2], q: b(2), alpha: s }));
      const grads: Record<string, () => tf.Tensor> = {
        // The input gradient of every part, summed pass by pass in the matmul's accumulator.
        x: () => {
          let dx: tf.Tensor | undefined;
          for (let p = 0; p < parts; p++) dx = inputGrad(dy[p], w(p), halfShape(attrs, p), { du: du[p], a: a(p) }, dx);
          return dx!;
        },
      };
      for (let p = 0; p < parts; p++) {
        const [da, db] = runKernelMulti(LORA_GRAD_AB, { du: du[p], xd: x, dy: dy[p], u: u(p) }, { scaling: s });
        grads[`w${p}`] = noGradient(LORA_LINEAR_GROUP[parts], `w${p}`);
        grads[`a${p}`] = () => da;
        grads[`b${p}`] = () => db;
      }
      return grads;
    },
  });
}

interface LoraPart {
  w: FrozenWeight;
  a: tf.Tensor;
  b: tf.Tensor;
}

/**
 * loraLinearFused for 2 or 3 linears of the same x (no dropout): [x·W_pᵀ + s·(x·A_pᵀ)·B_pᵀ for
 * each part]. The parts must share the rank r.
 */
export function loraLinearGroupFused(x: tf.Tensor, parts: LoraPart[], scaling: number): tf.Tensor[] {
  const inF = x.shape[x.rank - 1];
  const r = parts[0].a.shape[0];
  if (parts.length !== 2 && parts.length !== 3) throw new Error(`loraLinearGroup: 2 or 3 parts, got ${parts.length}`);
  for (const { w, a, b } of parts) {
    if (w.shape[1] !== inF || a.shape[1] !== inF || a.shape[0] !== r || b.shape[1] !== r || b.shape[0] !== w.shape[0]) {
      throw new Error(`loraLinearGroup: x ${x.shape}, W ${w.shape}, A ${a.shape}, B ${b.shape} do not fit (the parts must share r)`);
    }
  }
  const inputs: Record<string, tf.Tensor> = { x: x.reshape([-1, inF]) };
  parts.forEach((p, i) => Object.assign(inputs, { [`w${i}`]: isHalf(p.w) ? p.w.packed : p.w, [`a${i}`]: p.a, [`b${i}`]: p.b }));
  const half = parts.map((p) => isHalf(p.w));
  if (half.some(Boolean) && !half.every(Boolean)) throw new Error('loraLinearGroup: the parts are all float32 or all halves');
  for (const p of parts) if (isHalf(p.w)) needsFused('loraLinearGroup', p.w);
  const out = runKernelMulti(LORA_LINEAR_GROUP[parts.length], inputs, { scaling, ...(half[0] ? { wShapes: parts.flatMap((p) => p.w.shape) } : {}) });
  tf.dispose(out.slice(parts.length));
  return out.slice(0, parts.length).map((y, i) => y.reshape([...x.shape.slice(0, -1), parts[i].w.shape[0]]));
}
