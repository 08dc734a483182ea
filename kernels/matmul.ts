// Dispatch of the two-segment tiled matmul of matmul.wgsl.ts.
import { tf } from '../src/engine/tf';
import { f32, i32, type Program } from './program';
import { dispatch } from './dispatch';
import { groupedMatmulWgsl, loraDownWgsl, MM, matmulWgsl, tileKey, tileM, tileN, type Segment, type TileConfig } from './matmul.wgsl';
import { tileFor, tuneMatmuls, type MatmulProblem, type TuningResult } from './tuning';

interface Operand {
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

const flags = (s: Segment) => `${s.transP ? 't' : 'n'}${s.transQ ? 't' : 'n'}${s.vecP || s.vecQ ? `v${s.vecP ? 'p' : ''}${s.vecQ ? 'q' : ''}` : ''}`;

/**
 * A segment of `term` on the tile `cfg`: on a vec4 tile each operand whose contiguous axis
 * (K for P, N for Q; M for a transposed P, K for a transposed Q) is a multiple of 4 long is read
 * as vec4s; the others in groups of 4 scalars.
 */
function segmentOf(p: string, q: string, term: MatmulTerm, cfg: TileConfig): Segment {
  const d = dims(term);
  const [transP, transQ] = [term.p.trans, term.q.trans];
  return {
    p,
    q,
    transP,
    transQ,
    vecP: !!cfg.vec4 && (transP ? d.m : d.k) % 4 === 0,
    vecQ: !!cfg.vec4 && (transQ ? d.k : d.n) % 4 === 0,
  };
}

const vec4Inputs = (...segs: (Segment | null)[]) => segs.flatMap((s) => (s ? [...(s.vecP ? [s.p] : []), ...(s.vecQ ? [s.q] : [])] : []));

const problemOf = (t: MatmulTerm): MatmulProblem => ({ ...dims(t), transP: t.p.trans, transQ: t.q.trans });

/** [ACC +] α1·op(P1)·op(Q1) [+ α2·op(P2)·op(Q2)] on the tile `cfg`. */
export function matmulProgram(t1: MatmulTerm, t2: MatmulTerm | undefined, acc: tf.TensorInfo | undefined, cfg: TileConfig): Program {
  const d1 = dims(t1);
  const d2 = t2 ? dims(t2) : null;
  if (d2 && (d2.m !== d1.m || d2.n !== d1.n)) throw new Error(`matmul: the two terms give [${d1.m}, ${d1.n}] and [${d2.m}, ${d2.n}]`);
  const s1 = segmentOf('P1', 'Q1', t1, cfg);
  const s2 = t2 ? segmentOf('P2', 'Q2', t2, cfg) : null;
  return {
    name: `mm_${flags(s1)}${s2 ? `_${flags(s2)}` : ''}${acc ? '_acc' : ''}_${tileKey(cfg)}`,
    outputs: { result: [d1.m, d1.n] },
    inputs: { P1: t1.p.t, Q1: t1.q.t, ...(t2 ? { P2: t2.p.t, Q2: t2.q.t } : {}), ...(acc ? { ACC: acc } : {}) },
    uniforms: { dimM: i32(d1.m), dimN: i32(d1.n), dimK1: i32(d1.k), dimK2: i32(d2?.k ?? 0), alpha1: f32(t1.alpha), alpha2: f32(t2?.alpha ?? 0) },
    workgroupSize: [cfg.WX, cfg.WY, 1],
    dispatch: [Math.ceil(d1.n / tileN(cfg)), Math.ceil(d1.m / tileM(cfg)), 1],
    flat: false,
    code: matmulWgsl(s1, s2, !!acc, cfg),
    vec4: vec4Inputs(s1, s2),
  };
}

/**
 * [acc +] α1·op(P1)·op(Q1) [+ α2·op(P2)·op(Q2)], one dispatch. The tile is the one measured
 * fastest for the first term's problem (kernels/tuning.ts), unless `tile` is given.
 */
export function matmul(backend: object, t1: MatmulTerm, t2?: MatmulTerm, acc?: tf.TensorInfo, tile?: TileConfig): tf.TensorInfo {
  const cfg = tile ?? tileFor(problemOf(t1));
  return dispatch(backend, matmulProgram(t1, t2, acc, cfg))[0];
}

/** Two independent products, α·op(P)·op(Q) each, in one dispatch: OUTA and OUTB, on the tile `cfg`. */
export function groupedMatmulProgram(ta: MatmulTerm, tb: MatmulTerm, cfg: TileConfig = MM): Program {
  const da = dims(ta);
  const db = dims(tb);
  const sa = segmentOf('PA', 'QA', ta, cfg);
  const sb = segmentOf('PB', 'QB', tb, cfg);
  const tilesAN = Math.ceil(da.n / tileN(cfg));
  const tilesA = tilesAN * Math.ceil(da.m / tileM(cfg));
  const tilesBN = Math.ceil(db.n / tileN(cfg));
  const tilesB = tilesBN * Math.ceil(db.m / tileM(cfg));
  return {
    name: `mm2_${flags(sa)}_${flags(sb)}${cfg === MM ? '' : `_${tileKey(cfg)}`}`,
    outputs: { OUTA: [da.m, da.n], OUTB: [db.m, db.n] },
    inputs: { PA: ta.p.t, QA: ta.q.t, PB: tb.p.t, QB: tb.q.t },
    uniforms: {
      mA: i32(da.m),
      nA: i32(da.n),
      kA: i32(da.k),
      alphaA: f32(ta.alpha),
      tilesA: i32(tilesA),
      tilesAN: i32(tilesAN),
      mB: i32(db.m),
      nB: i32(db.n),
      kB: i32(db.k),
      alphaB: f32(tb.alpha),
      tilesBN: i32(tilesBN),
    },
    workgroupSize: [cfg.WX, cfg.WY, 1],
    dispatch: [tilesA + tilesB, 1, 1],
    flat: false,
    code: groupedMatmulWgsl(sa, sb, cfg),
    vec4: vec4Inputs(sa, sb),
  };
}

/** The grouped product on the tile measured for its first problem (the default where untuned), or `tile`. */
export const groupedMatmul = (backend: object, ta: MatmulTerm, tb: MatmulTerm, tile?: TileConfig): tf.TensorInfo[] =>
  dispatch(backend, groupedMatmulProgram(ta, tb, tile ?? tileFor(problemOf(ta))));

/** The problem loraDown solves: X [M, K] times the stacked A_pᵀ [K, parts·r]. */
export const loraDownProblem = (m: number, k: number, n: number): MatmulProblem => ({ m, n, k, transP: false, transQ: true });

/** U_p = X·A_pᵀ for every A_p [r, K] (same r), one dispatch, on the tile `cfg`. */
export function loraDownProgram(x: tf.TensorInfo, as: tf.TensorInfo[], cfg: TileConfig = MM): Program {
  const [m, k] = x.shape;
  const r = as[0].shape[0];
  if (as.some((a) => a.shape[0] !== r || a.shape[1] !== k)) throw new Error(`loraDown: A ${as.map((a) => a.shape).join(' / ')} do not fit x ${x.shape}`);
  const n = r * as.length;
  const vecX = !!cfg.vec4 && k % 4 === 0;
  return {
    name: `mm_down_${as.length}${cfg === MM ? '' : `_${tileKey(cfg)}`}${vecX ? '_vp' : ''}`,
    outputs: Object.fromEntries(as.map((_, p) => [`U${p}`, [m, r]])),
    inputs: { X: x, ...Object.fromEntries(as.map((a, p) => [`A${p}`, a])) },
    uniforms: { dimM: i32(m), dimN: i32(n), dimK: i32(k), rank: i32(r) },
    workgroupSize: [cfg.WX, cfg.WY, 1],
    dispatch: [Math.ceil(n / tileN(cfg)), Math.ceil(m / tileM(cfg)), 1],
    flat: false,
    code: loraDownWgsl(as.length, cfg, vecX),
    vec4: vecX ? ['X'] : [],
  };
}

export const loraDown = (backend: object, x: tf.TensorInfo, as: tf.TensorInfo[], tile?: TileConfig): tf.TensorInfo[] =>
  dispatch(backend, loraDownProgram(x, as, tile ?? tileFor(loraDownProblem(x.shape[0], x.shape[1], as[0].shape[0] * as.length))));

export const plain = (t: tf.TensorInfo): Operand => ({ t, trans: false });
export const transposed = (t: tf.TensorInfo): Operand => ({ t, trans: true });

/** op(P)·op(Q) with a given tile, as a tensor (webgpu backend): the tuner's probe. */
export function matmulWithTile(cfg: TileConfig, p: tf.Tensor2D, q: tf.Tensor2D, problem: MatmulProblem): tf.Tensor {
  const info = matmul(tf.backend(), { p: { t: p, trans: problem.transP }, q: { t: q, trans: problem.transQ }, alpha: 1 }, undefined, undefined, cfg);
  return tf.engine().makeTensorFromTensorInfo(info);
}

/**
 * Measures the candidate tiles on the frozen-weight products of LoRA training — for each
 * linear [out, in] and M = tokens per micro-batch: x·Wᵀ (forward) and dy·W (input gradient) —
 * and keeps the fastest for each. With `rank`, also the LoRA products that take a tile: dA = duᵀ·x
 * (the grouped dA/dB dispatch uses its tile) and the 2- and 3-part down-projections X·[A_p]ᵀ.
 * The lm_head's products (the fused cross-entropy's) are those of a linear [vocab, hidden].
 * Needs the webgpu backend.
 */
export async function tuneFrozenMatmuls(linears: readonly { in: number; out: number }[], tokens: number, opts: { rank?: number } = {}): Promise<TuningResult[]> {
  if (tf.getBackend() !== 'webgpu') throw new Error(`tuneFrozenMatmuls needs the webgpu backend, not ${tf.getBackend()}`);
  const seen = new Set<string>();
  const problems: MatmulProblem[] = [];
  const add = (p: MatmulProblem) => {
    const key = JSON.stringify(p);
    if (!seen.has(key)) problems.push(p), seen.add(key);
  };
  for (const l of linears) {
    add({ m: tokens, n: l.out, k: l.in, transP: false, transQ: true });
    add({ m: tokens, n: l.in, k: l.out, transP: false, transQ: false });
  }
  const r = opts.rank;
  if (r) {
    for (const l of linears) add({ m: r, n: l.in, k: tokens, transP: true, transQ: false });
    for (const k of new Set(linears.map((l) => l.in))) for (const parts of [2, 3]) add(loraDownProblem(tokens, k, parts * r));
  }
  return tuneMatmuls(problems, matmulWithTile);
}
