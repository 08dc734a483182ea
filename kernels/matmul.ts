// Dispatch of the two-segment tiled matmul of matmul.wgsl.ts.
import type { tf } from '../src/engine/tf';
import { f32, i32, run } from './program';
import { runMulti } from './multi';
import { tf as tfjs } from '../src/engine/tf';
import { groupedMatmulWgsl, loraDownWgsl, MM, matmulWgsl, TILE_M, TILE_N, tileKey, tileM, tileN, type Segment, type TileConfig } from './matmul.wgsl';
import { tileFor, tuneMatmuls, type MatmulProblem, type TuningResult } from './tuning';

export interface Operand {
  t: tf.TensorInfo;
  /** Stored transposed: op(P) = Pᵀ, op(Q) = Qᵀ. */
  trans: boolean;
}

export interface MatmulTerm {
  p: Operand;
  q: Operand;
  alpha: number;
}

function dims(term: MatmulTerm): { m: number; n: number; k: number } {
  const [p0, p1] = term.p.t.shape;
  const [q0, q1] = term.q.t.shape;
  const [m, k] = term.p.trans ? [p1, p0] : [p0, p1];
  const [kq, n] = term.q.trans ? [q1, q0] : [q0, q1];
  if (term.p.t.shape.length !== 2 || term.q.t.shape.length !== 2 || k !== kq) {
    throw new Error(`matmul: operands ${term.p.t.shape}${term.p.trans ? 'ᵀ' : ''} and ${term.q.t.shape}${term.q.trans ? 'ᵀ' : ''} do not chain`);
  }
  return { m, n, k };
}

/**
 * [acc +] α1·op(P1)·op(Q1) [+ α2·op(P2)·op(Q2)], one dispatch. The tile is the one measured
 * fastest for the first term's problem (kernels/tuning.ts), unless `tile` is given.
 */
export function matmul(backend: object, t1: MatmulTerm, t2?: MatmulTerm, acc?: tf.TensorInfo, tile?: TileConfig): tf.TensorInfo {
  const d1 = dims(t1);
  const cfg = tile ?? tileFor({ ...d1, transP: t1.p.trans, transQ: t1.q.trans });
  const d2 = t2 ? dims(t2) : null;
  if (d2 && (d2.m !== d1.m || d2.n !== d1.n)) throw new Error(`matmul: the two terms give [${d1.m}, ${d1.n}] and [${d2.m}, ${d2.n}]`);
  const s1: Segment = { p: 'P1', q: 'Q1', transP: t1.p.trans, transQ: t1.q.trans };
  const s2: Segment | null = t2 ? { p: 'P2', q: 'Q2', transP: t2.p.trans, transQ: t2.q.trans } : null;
  const flags = (s: Segment) => `${s.transP ? 't' : 'n'}${s.transQ ? 't' : 'n'}`;
  return run(
    backend,
    {
      key: `mm_${flags(s1)}${s2 ? `_${flags(s2)}` : ''}${acc ? '_acc' : ''}_${tileKey(cfg)}`,
      inputs: [...(s2 ? ['P1', 'Q1', 'P2', 'Q2'] : ['P1', 'Q1']), ...(acc ? ['ACC'] : [])],
      outputShape: [d1.m, d1.n],
      workgroupSize: [cfg.WX, cfg.WY, 1],
      dispatch: [Math.ceil(d1.n / tileN(cfg)), Math.ceil(d1.m / tileM(cfg)), 1],
      flat: false,
      uniforms: 'dimM : i32, dimN : i32, dimK1 : i32, dimK2 : i32, alpha1 : f32, alpha2 : f32,',
      code: matmulWgsl(s1, s2, !!acc, cfg),
    },
    [...(t2 ? [t1.p.t, t1.q.t, t2.p.t, t2.q.t] : [t1.p.t, t1.q.t]), ...(acc ? [acc] : [])],
    [i32(d1.m), i32(d1.n), i32(d1.k), i32(d2?.k ?? 0), f32(t1.alpha), f32(t2?.alpha ?? 0)],
  );
}

/** Two independent products, α·op(P)·op(Q) each, in one dispatch: [outA, outB]. */
export function groupedMatmul(backend: object, ta: MatmulTerm, tb: MatmulTerm): tf.TensorInfo[] {
  const da = dims(ta);
  const db = dims(tb);
  const sa: Segment = { p: 'PA', q: 'QA', transP: ta.p.trans, transQ: ta.q.trans };
  const sb: Segment = { p: 'PB', q: 'QB', transP: tb.p.trans, transQ: tb.q.trans };
  const flags = (s: Segment) => `${s.transP ? 't' : 'n'}${s.transQ ? 't' : 'n'}`;
  const tilesAN = Math.ceil(da.n / TILE_N);
  const tilesA = tilesAN * Math.ceil(da.m / TILE_M);
  const tilesBN = Math.ceil(db.n / TILE_N);
  const tilesB = tilesBN * Math.ceil(db.m / TILE_M);
  return runMulti(
    backend,
    {
      key: `mm2_${flags(sa)}_${flags(sb)}`,
      inputs: ['PA', 'QA', 'PB', 'QB'],
      outputs: [
        { name: 'OUTA', shape: [da.m, da.n] },
        { name: 'OUTB', shape: [db.m, db.n] },
      ],
      workgroupSize: [MM.WX, MM.WY, 1],
      dispatch: [tilesA + tilesB, 1, 1],
      flat: false,
      uniforms: 'mA : i32, nA : i32, kA : i32, alphaA : f32, tilesA : i32, tilesAN : i32, mB : i32, nB : i32, kB : i32, alphaB : f32, tilesBN : i32,',
      code: groupedMatmulWgsl(sa, sb),
    },
    [ta.p.t, ta.q.t, tb.p.t, tb.q.t],
    [i32(da.m), i32(da.n), i32(da.k), f32(ta.alpha), i32(tilesA), i32(tilesAN), i32(db.m), i32(db.n), i32(db.k), f32(tb.alpha), i32(tilesBN)],
  );
}

/** U_p = X·A_pᵀ for every A_p [r, K] (same r), one dispatch. */
export function loraDown(backend: object, x: tf.TensorInfo, as: tf.TensorInfo[]): tf.TensorInfo[] {
  const [m, k] = x.shape;
  const r = as[0].shape[0];
  if (as.some((a) => a.shape[0] !== r || a.shape[1] !== k)) throw new Error(`loraDown: A ${as.map((a) => a.shape).join(' / ')} do not fit x ${x.shape}`);
  const n = r * as.length;
  return runMulti(
    backend,
    {
      key: `mm_down_${as.length}`,
      inputs: ['X', ...as.map((_, p) => `A${p}`)],
      outputs: as.map((_, p) => ({ name: `U${p}`, shape: [m, r] })),
      workgroupSize: [MM.WX, MM.WY, 1],
      dispatch: [Math.ceil(n / TILE_N), Math.ceil(m / TILE_M), 1],
      flat: false,
      uniforms: 'dimM : i32, dimN : i32, dimK : i32, rank : i32,',
      code: loraDownWgsl(as.length),
    },
    [x, ...as],
    [i32(m), i32(n), i32(k), i32(r)],
  );
}

export const plain = (t: tf.TensorInfo): Operand => ({ t, trans: false });
export const transposed = (t: tf.TensorInfo): Operand => ({ t, trans: true });

/** op(P)·op(Q) with a given tile, as a tensor (webgpu backend): the tuner's probe. */
export function matmulWithTile(cfg: TileConfig, p: tfjs.Tensor2D, q: tfjs.Tensor2D, problem: MatmulProblem): tfjs.Tensor {
  const info = matmul(tfjs.backend(), { p: { t: p, trans: problem.transP }, q: { t: q, trans: problem.transQ }, alpha: 1 }, undefined, undefined, cfg);
  return tfjs.engine().makeTensorFromTensorInfo(info);
}

/**
 * Measures the candidate tiles on the frozen-weight products of LoRA training — for each
 * linear [out, in] and M = tokens per micro-batch: x·Wᵀ (forward) and dy·W (input gradient) —
 * and keeps the fastest for each. Needs the webgpu backend.
 */
export async function tuneFrozenMatmuls(linears: readonly { in: number; out: number }[], tokens: number): Promise<TuningResult[]> {
  if (tfjs.getBackend() !== 'webgpu') throw new Error(`tuneFrozenMatmuls needs the webgpu backend, not ${tfjs.getBackend()}`);
  const seen = new Set<string>();
  const problems: MatmulProblem[] = [];
  for (const l of linears) {
    for (const p of [
      { m: tokens, n: l.out, k: l.in, transP: false, transQ: true },
      { m: tokens, n: l.in, k: l.out, transP: false, transQ: false },
    ]) {
      const key = JSON.stringify(p);
      if (!seen.has(key)) problems.push(p), seen.add(key);
    }
  }
  return tuneMatmuls(problems, matmulWithTile);
}
