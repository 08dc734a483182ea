// Dispatch of the half-precision frozen matmuls (matmul-f16.wgsl.ts), and which of the two runs:
// the subgroup-matrix kernel where the device has the matrix units (an f16 × f16 → f32 shape)
// and it passed its self-check on this device, else the SIMT f16 kernel.
import { tf } from '../src/engine/tf';
import { f32, i32, type Program } from './program';
import { compile, dispatch } from './dispatch';
import { matmul, plain, transposed } from './matmul';
import { HT, matmulHalfWgsl, matmulSubgroupMatrixWgsl, SG_TILE, type MatrixShape } from './matmul-f16.wgsl';
import { HalfWeight, roundF16 } from './half';

/** What runs the frozen products: float32 tiles, the SIMT f16 kernel, or the matrix units. */
export type FrozenMatmulPath = 'fp32' | 'simt-f16' | 'subgroup-matrix';

interface MatrixPath {
  shape: MatrixShape;
  lanes: number;
}

let matrixPath: MatrixPath | null = null;

/** The half-precision kernel in use (after `selectHalfMatmul`). */
export const halfMatmulPath = (): Exclude<FrozenMatmulPath, 'fp32'> => (matrixPath ? 'subgroup-matrix' : 'simt-f16');

/** A frozen weight's halves with the shape they stand for. */
export interface HalfOperand {
  /** int32: the packed halves. */
  t: tf.TensorInfo;
  rows: number;
  cols: number;
}

/** The float32 LoRA term α2·P2·op(Q2). */
export interface LoraTerm {
  p: tf.TensorInfo;
  q: tf.TensorInfo;
  transQ: boolean;
  alpha: number;
}

function dims(p1: tf.TensorInfo, w: HalfOperand, transW: boolean): { m: number; n: number; k: number } {
  const [m, k] = p1.shape;
  const [kw, n] = transW ? [w.cols, w.rows] : [w.rows, w.cols];
  if (p1.shape.length !== 2 || k !== kw) throw new Error(`matmulHalf: P ${p1.shape} and W [${w.rows}, ${w.cols}]${transW ? 'ᵀ' : ''} do not chain`);
  return { m, n, k };
}

/** SIMT: [ACC +] α1·P1·op(W) [+ lora], one dispatch. */
export function matmulHalfProgram(p1: tf.TensorInfo, w: HalfOperand, transW: boolean, alpha1: number, lora?: LoraTerm, acc?: tf.TensorInfo): Program {
  const d = dims(p1, w, transW);
  const k2 = lora ? (lora.transQ ? lora.q.shape[1] : lora.q.shape[0]) : 0;
  if (lora && (lora.p.shape[0] !== d.m || lora.p.shape[1] !== k2 || (lora.transQ ? lora.q.shape[0] : lora.q.shape[1]) !== d.n)) {
    throw new Error(`matmulHalf: the LoRA term ${lora.p.shape} · ${lora.q.shape}${lora.transQ ? 'ᵀ' : ''} does not give [${d.m}, ${d.n}]`);
  }
  const segs = { transW, lora: lora ? { transQ: lora.transQ } : null, accumulate: !!acc };
  return {
    name: `mmh_${transW ? 't' : 'n'}${lora ? `_${lora.transQ ? 't' : 'n'}` : ''}${acc ? '_acc' : ''}`,
    outputs: { result: [d.m, d.n] },
    inputs: { P1: p1, W: w.t, ...(lora ? { P2: lora.p, Q2: lora.q } : {}), ...(acc ? { ACC: acc } : {}) },
    half: ['W'],
    extensions: ['f16'],
    uniforms: { dimM: i32(d.m), dimN: i32(d.n), dimK1: i32(d.k), dimK2: i32(k2), alpha1: f32(alpha1), alpha2: f32(lora?.alpha ?? 0) },
    workgroupSize: [HT.WX, HT.WY, 1],
    dispatch: [Math.ceil(d.n / (HT.WX * HT.RN)), Math.ceil(d.m / (HT.WY * HT.RM)), 1],
    flat: false,
    code: matmulHalfWgsl(segs),
  };
}

/** Subgroup matrices: [ACC +] α1·P1·op(W), one dispatch. */
export function matmulSubgroupMatrixProgram(p1: tf.TensorInfo, w: HalfOperand, transW: boolean, alpha1: number, acc: tf.TensorInfo | undefined, path: MatrixPath): Program {
  const d = dims(p1, w, transW);
  const { M, N, K } = path.shape;
  return {
    name: `mmsg_${transW ? 't' : 'n'}${acc ? '_acc' : ''}_${M}x${N}x${K}_${path.lanes}`,
    outputs: { result: [d.m, d.n] },
    inputs: { P1: p1, W: w.t, ...(acc ? { ACC: acc } : {}) },
    half: ['W'],
    extensions: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
    uniforms: { dimM: i32(d.m), dimN: i32(d.n), dimK1: i32(d.k), alpha1: f32(alpha1) },
    workgroupSize: [path.lanes, 1, 1],
    dispatch: [Math.ceil(d.n / SG_TILE.BN), Math.ceil(d.m / SG_TILE.BM), 1],
    flat: false,
    code: matmulSubgroupMatrixWgsl(transW, !!acc, path.shape, path.lanes),
  };
}

/**
 * [acc +] α1·P1·op(W) [+ lora] with W in halves, on the kernel `selectHalfMatmul` chose. On the
 * matrix units the LoRA term follows as a second dispatch (the float32 matmul, accumulating).
 */
export function matmulHalf(backend: object, p1: tf.TensorInfo, w: HalfOperand, transW: boolean, alpha1 = 1, lora?: LoraTerm, acc?: tf.TensorInfo, path: MatrixPath | null = matrixPath): tf.TensorInfo {
  if (!path) return dispatch(backend, matmulHalfProgram(p1, w, transW, alpha1, lora, acc))[0];
  const frozen = dispatch(backend, matmulSubgroupMatrixProgram(p1, w, transW, alpha1, acc, path))[0];
  if (!lora) return frozen;
  const y = matmul(backend, { p: plain(lora.p), q: lora.transQ ? transposed(lora.q) : plain(lora.q), alpha: lora.alpha }, undefined, frozen);
  (backend as { disposeData(id: object): void }).disposeData(frozen.dataId);
  return y;
}

/** The f16 × f16 → f32 shape to use: square ones first (their row/column order cannot be mistaken), the largest K. */
export function pickMatrixShape(configs: readonly { componentType: string; resultComponentType: string; M: number; N: number; K: number }[]): MatrixShape | null {
  const fit = configs.filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && 32 % c.M === 0 && 32 % c.N === 0 && SG_TILE.BK % c.K === 0);
  fit.sort((a, b) => Number(b.M === b.N && b.N === b.K) - Number(a.M === a.N && a.N === a.K) || b.M * b.N * b.K - a.M * a.N * a.K);
  return fit[0] ? { M: fit[0].M, N: fit[0].N, K: fit[0].K } : null;
}

/** float64 of P·op(W) with P's rows scaled to [2¹⁴, 2¹⁵) and rounded to f16 as the matrix kernel does (W already halves). */
export function referenceHalfProduct(p: Float32Array, w: Float32Array, m: number, n: number, k: number, transW: boolean, roundP: boolean): Float64Array {
  const out = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    let max = 0;
    for (let c = 0; c < k; c++) max = Math.max(max, Math.abs(p[r * k + c]));
    const up = roundP && max > 0 ? 2 ** (15 - (Math.floor(Math.log2(max)) + 1)) : 1;
    const row = Array.from({ length: k }, (_, c) => (roundP ? roundF16(p[r * k + c] * up) : p[r * k + c]));
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += row[c] * (transW ? w[j * k + c] : w[c * n + j]);
      out[r * n + j] = s / up;
    }
  }
  return out;
}

export interface HalfSelfCheck {
  path: Exclude<FrozenMatmulPath, 'fp32'>;
  /** Why the matrix units are not used, where the device has them. */
  why?: string;
  /** max |got − ref| / max |ref| of the matrix kernel's self-check, forward and backward. */
  error?: number;
}

/**
 * Picks the half-precision kernel for the current webgpu device: the subgroup-matrix one when
 * the device has an f16 × f16 → f32 shape, its WGSL compiles, and its products equal float64
 * within 1e-3 on odd-sized random problems (both orientations, with an accumulator); else SIMT.
 */
export async function selectHalfMatmul(configs: readonly { componentType: string; resultComponentType: string; M: number; N: number; K: number }[], subgroupMaxSize: number | undefined): Promise<HalfSelfCheck> {
  matrixPath = null;
  const backend = tf.backend() as unknown as { device: GPUDevice };
  const f = backend.device.features;
  if (!f.has('chromium-experimental-subgroup-matrix')) return { path: 'simt-f16' };
  const shape = pickMatrixShape(configs);
  if (!shape) return { path: 'simt-f16', why: `no f16 × f16 → f32 shape among the adapter's subgroup matrix configs (${configs.map((c) => `${c.componentType}→${c.resultComponentType} ${c.M}×${c.N}×${c.K}`).join(', ')})` };
  if (!f.has('subgroups') || !f.has('shader-f16')) return { path: 'simt-f16', why: 'the device lacks subgroups or shader-f16, which the subgroup-matrix kernel needs too' };
  const candidate = { shape, lanes: 4 * (subgroupMaxSize ?? 32) };
  const check = await checkHalfMatmul(candidate);
  if (check.why) return { path: 'simt-f16', why: check.why, error: check.error };
  matrixPath = candidate;
  return { path: 'subgroup-matrix', error: check.error };
}

/** Runs the given half kernel (null: SIMT) against float64 on odd shapes; `why` says what failed. */
export async function checkHalfMatmul(path: MatrixPath | null): Promise<{ why?: string; error: number }> {
  const backend = tf.backend() as unknown as { device: GPUDevice };
  const device = backend.device;
  let worst = 0;
  for (const [m, n, k, transW] of [
    [70, 96, 80, true],
    [67, 130, 48, false],
  ] as const) {
    const rnd = (len: number, scale: number) => Float32Array.from({ length: len }, (_, i) => Math.sin(i * 12.9898 + m) * scale);
    const p = rnd(m * k, 3e-4);
    const wRaw = rnd(n * k, 0.5).map(roundF16);
    const acc = rnd(m * n, 1e-3);
    const w = HalfWeight.fromFloat32(wRaw, transW ? [n, k] : [k, n], 'self-check');
    const pt = tf.tensor2d(p, [m, k]);
    const at = tf.tensor2d(acc, [m, n]);
    device.pushErrorScope('validation');
    let out: tf.Tensor | undefined;
    try {
      if (path) compile(device, matmulSubgroupMatrixProgram(pt, { t: w.packed, rows: w.shape[0], cols: w.shape[1] }, transW, 2, at, path));
      const info = matmulHalf(tf.backend(), pt, { t: w.packed, rows: w.shape[0], cols: w.shape[1] }, transW, 2, undefined, at, path);
      out = tf.engine().makeTensorFromTensorInfo(info);
      const got = (await out.data()) as Float32Array;
      const err = await device.popErrorScope();
      if (err) return { why: `the subgroup-matrix kernel failed validation: ${err.message}`, error: Infinity };
      const ref = referenceHalfProduct(p, wRaw, m, n, k, transW, !!path);
      let maxDiff = 0;
      for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - (acc[i] + 2 * ref[i])));
      // The products are ~1e-3 of the accumulator: judge them on their own scale.
      const scale = Math.max(...ref.map((v) => Math.abs(2 * v)));
      worst = Math.max(worst, maxDiff / scale);
      if (!(maxDiff / scale < 1e-3)) return { why: `the subgroup-matrix kernel's self-check is off by ${(maxDiff / scale).toExponential(2)} relative (${m}×${n}×${k}${transW ? ', Wᵀ' : ''})`, error: maxDiff / scale };
    } catch (e) {
      await device.popErrorScope().catch(() => null);
      return { why: `the subgroup-matrix kernel failed: ${e instanceof Error ? e.message : String(e)}`, error: Infinity };
    } finally {
      tf.dispose([pt, at, ...(out ? [out] : [])]);
      w.dispose();
    }
  }
  return { error: worst };
}
