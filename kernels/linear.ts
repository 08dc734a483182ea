// The linear op: y = x·Wᵀ (+ bias) (+ s·dropout(x)·Aᵀ·Bᵀ when LoRA covers it). Only here is it
// decided how a linear runs: the stock TF.js matmuls, or — fused, with LoRA — the one-pass
// kernel of kernels/lora-linear.ts; and `linears` owns when the linears of one input (q/k/v,
// gate/up) run as one grouped kernel. The stock path is the only stock LoRA forward: the model
// runs it on cpu, wasm and in stock mode, and the kernel tests compare the fused one with it.
import { tf } from '../src/engine/tf';
import { fusedActive } from './active';
import { loraLinearFused, loraLinearGroupFused } from './lora-linear';
import { isHalf, type FrozenWeight } from './half';
import { linearHalf, needsFused } from './half-ops';

/** The trainable low-rank branch of a linear. */
export interface LoraBranch {
  /** [r, in] */
  a: tf.Tensor;
  /** [out, r] */
  b: tf.Tensor;
  scaling: number;
  /** LoRA dropout of the branch's input; the seed makes a step reproducible. */
  dropout?: { rate: number; seed?: number };
  /**
   * [B] 0/1 per row of x's leading axis: the branch reads x·mask, so a 0 row gets u = 0 and
   * exactly the frozen output (base and tuned rows in one batched generation).
   */
  rowMask?: tf.Tensor;
}

/** A linear's parameters: the frozen W [out, in] (float32, or halves under f16-base), its bias [out], its LoRA branch. */
export interface Dense {
  w: FrozenWeight;
  bias?: tf.Tensor;
  lora?: LoraBranch;
}

/** x [..., in] -> [..., out]. */
export function linear(x: tf.Tensor, d: Dense): tf.Tensor {
  if (isHalf(d.w)) {
    needsFused('linear', d.w);
    if (!d.lora) return d.bias ? linearHalf(x, d.w).add(d.bias) : linearHalf(x, d.w);
  } else if (!d.lora || !fusedActive()) return linearStock(x, { ...d, w: d.w });
  const y = loraLinearFused(x, d.w, d.lora.a, d.lora.b, d.lora.scaling, dropped(x, d.lora));
  return d.bias ? y.add(d.bias) : y;
}

/** `linear` of one x for each of `ds`, as one grouped kernel where that is possible. */
export function linears(x: tf.Tensor, ds: Dense[]): tf.Tensor[] {
  if (!groupable(ds)) return ds.map((d) => linear(x, d));
  const parts = ds.map((d) => ({ w: d.w, a: d.lora!.a, b: d.lora!.b }));
  return loraLinearGroupFused(x, parts, ds[0].lora!.scaling);
}

/** The grouped kernel takes 2 or 3 LoRA linears of one rank and scaling, without dropout or bias. */
function groupable(ds: Dense[]): boolean {
  const first = ds[0]?.lora;
  return (
    fusedActive() &&
    (ds.length === 2 || ds.length === 3) &&
    ds.every((d) => d.lora && !d.lora.dropout && !d.lora.rowMask && !d.bias && d.lora.a.shape[0] === first!.a.shape[0] && d.lora.scaling === first!.scaling)
  );
}

/** The branch's input: x after dropout and the row mask (x itself when it has neither). */
function dropped(x: tf.Tensor, lora: LoraBranch): tf.Tensor {
  const xd = lora.dropout && lora.dropout.rate > 0 ? tf.dropout(x, lora.dropout.rate, undefined, lora.dropout.seed) : x;
  if (!lora.rowMask) return xd;
  const rows = x.shape[0];
  if (lora.rowMask.size !== rows) throw new Error(`linear: a row mask of ${lora.rowMask.size} for x ${x.shape}`);
  return xd.reshape([rows, -1]).mul(lora.rowMask.reshape([rows, 1])).reshape(x.shape);
}

function linearStock(x: tf.Tensor, { w, bias, lora }: Dense & { w: tf.Tensor }): tf.Tensor {
  const rows = x.shape.slice(0, -1);
  let y = tf.matMul(x.reshape([-1, x.shape[x.rank - 1]]), w, false, true);
  if (bias) y = y.add(bias);
  y = y.reshape([...rows, w.shape[0]]);
  if (!lora) return y;
  const xd = dropped(x, lora);
  const low = tf.matMul(xd.reshape([-1, xd.shape[xd.rank - 1]]), lora.a, false, true);
  const delta = tf.matMul(low, lora.b, false, true).mul(lora.scaling);
  return y.add(delta.reshape([...rows, lora.b.shape[0]]));
}
