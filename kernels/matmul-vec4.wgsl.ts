// The register-blocked K loop of the tiled matmul (a TileConfig with `vec4`), built the way fast
// SGEMMs are (CUTLASS's and the SGEMM tutorials' recipe, as in tfjs-backend-webgpu's
// matmul_packed and gpu.cpp's WGSL matmul):
//
// - each lane owns RM × RN outputs in 4 × 4 blocks — rows (i / 4)·4·WY + 4·ly + i % 4, columns
//   (j / 4)·4·WX + 4·lx + j % 4 — so that its operands are whole vec4s of workgroup memory
//   (16-byte reads; lanes of one ly read the same address, a broadcast);
// - workgroup memory holds both tiles K-major, each row padded by 4 floats: the transposing
//   stores of K-contiguous operands then land in different banks (row stride ≡ 16 banks mod 32);
// - global reads come in groups of 4 along the operand's contiguous axis, neighbouring lanes on
//   neighbouring groups; where that axis' length is a multiple of 4 the operand is bound as
//   array<vec4<f32>> and a group is one 16-byte load (`Segment.vecP` / `vecQ`), else 4 scalars;
// - the next K tile is read into registers while the current one is multiplied (one tile of
//   workgroup memory, two barriers per step);
// - the outer product is written out by hand, every index a constant (Tint does not unroll);
// - a workgroup whose tile lies inside M × N, with K a multiple of TK, reads without bounds
//   checks; edge tiles keep them. The choice is per workgroup (one branch, no barrier inside).
import type { Dims, Segment, TileConfig } from './matmul.wgsl';

/** Workgroup-memory row stride (floats) of a K-major tile `extent` wide. */
export const paddedStride = (extent: number) => extent + 4;

export const vec4Tiles = (c: TileConfig) => /* wgsl */ `
var<workgroup> tileP : array<vec4<f32>, ${(c.TK * paddedStride(c.WY * c.RM)) / 4}>;
var<workgroup> tileQ : array<vec4<f32>, ${(c.TK * paddedStride(c.WX * c.RN)) / 4}>;
`;

/** Why a config cannot be a vec4 one, or null. */
export function vec4ConfigError(c: TileConfig): string | null {
  const threads = c.WX * c.WY;
  if (c.RM % 4 || c.RN % 4) return 'RM and RN must be multiples of 4';
  if (c.TK % 4) return 'TK must be a multiple of 4';
  for (const extent of [c.WY * c.RM, c.WX * c.RN]) {
    if ((extent * c.TK) % (4 * threads)) return `a ${extent}×${c.TK} tile is not a whole number of vec4 loads per lane`;
  }
  if (c.TK * (paddedStride(c.WY * c.RM) + paddedStride(c.WX * c.RN)) * 4 > 16384) return 'more than 16 KiB of workgroup memory';
  return null;
}

interface Operand {
  /** 'm' (rows of op(P)) or 'n' (columns of op(Q)). */
  x: 'm' | 'n';
  tile: string;
  /** Stored contiguous along K (else along x). */
  kContiguous: boolean;
  /** Bound as array<vec4<f32>>. */
  vec: boolean;
  /** Scalar read of element (k, x) (bounds already checked where needed). */
  read: (k: string, x: string) => string;
  /** Flat element index of (k, x) in the buffer (for the vec4 read). */
  index: (k: string, x: string) => string;
  buffer: string;
}

/** Reads of one operand: `groups` vec4 registers per lane, loaded at K offset `k0`. */
function operandCode(o: Operand, d: Dims, cfg: TileConfig, name: string) {
  const extent = o.x === 'm' ? cfg.WY * cfg.RM : cfg.WX * cfg.RN;
  const threads = cfg.WX * cfg.WY;
  const groups = (extent * cfg.TK) / (4 * threads);
  const stride4 = paddedStride(extent) / 4;
  const origin = o.x === 'm' ? 'row0' : 'col0';
  const limX = d[o.x];
  // Group g of the tile: which K offset and which x it starts at; the 4 elements run along the contiguous axis.
  const at = (e: number) => {
    const g = `(tid + ${e * threads})`;
    return o.kContiguous
      ? { kk: `(${g} % ${cfg.TK / 4}) * 4`, xx: `(${g} / ${cfg.TK / 4})` }
      : { kk: `(${g} / ${extent / 4})`, xx: `(${g} % ${extent / 4}) * 4` };
  };
  const elem = (c: number) => (o.kContiguous ? { dk: ` + ${c}`, dx: '' } : { dk: '', dx: ` + ${c}` });
  const load = (e: number, checked: boolean) => {
    const { kk, xx } = at(e);
    const head = `{ let gk = k0 + ${kk}; let gx = ${origin} + ${xx};`;
    if (o.vec) {
      const v = `${o.buffer}[(${o.index('gk', 'gx')}) / 4]`;
      // The group is whole or outside: its start is a multiple of 4 along an axis of length 4·n.
      return `${head} ${checked ? `if (gk < ${d.k} && gx < ${limX}) { ${name}${e} = ${v}; } else { ${name}${e} = vec4<f32>(); }` : `${name}${e} = ${v};`} }`;
    }
    // select() reads either way: outside the matrix, robust buffer access clamps the index and the value is dropped.
    const parts = [0, 1, 2, 3].map((c) => {
      const { dk, dx } = elem(c);
      const r = o.read(`(gk${dk})`, `(gx${dx})`);
      return checked ? `select(0.0, ${r}, gk${dk} < ${d.k} && gx${dx} < ${limX})` : r;
    });
    return `${head} ${name}${e} = vec4<f32>(${parts.join(', ')}); }`;
  };
  const declare = Array.from({ length: groups }, (_, e) => `var ${name}${e} : vec4<f32>;`).join(' ');
  const loads = (checked: boolean) =>
    Array.from({ length: groups }, (_, e) => load(e, checked)).join('\n        ');
  const store = Array.from({ length: groups }, (_, e) => {
    const { kk, xx } = at(e);
    if (o.kContiguous) {
      // Transposed into K-major: 4 scalar stores, one per K row.
      return `{ let kk = ${kk}; let xx = ${xx}; ${[0, 1, 2, 3]
        .map((c) => `${o.tile}[(kk + ${c}) * ${stride4} + xx / 4][xx % 4] = ${name}${e}[${c}];`)
        .join(' ')} }`;
    }
    return `${o.tile}[${kk} * ${stride4} + ${xx} / 4] = ${name}${e};`;
  }).join('\n      ');
  return { declare, loads, store, stride4 };
}

/** Accumulates op(P)·op(Q) for the tile at (row0, col0) into `acc` (see the file's head). */
export function segmentVec4(s: Segment, d: Dims, acc: string, cfg: TileConfig): string {
  const invalid = vec4ConfigError(cfg);
  if (invalid) throw new Error(`vec4 tile ${cfg.WX}x${cfg.WY}_${cfg.RM}x${cfg.RN}_${cfg.TK}: ${invalid}`);
  const { WX, WY, RM, RN, TK } = cfg;
  const p: Operand = {
    x: 'm',
    tile: 'tileP',
    kContiguous: !s.transP,
    vec: !!s.vecP,
    buffer: s.p,
    index: (k, m) => (s.transP ? `${k} * ${d.m} + ${m}` : `${m} * ${d.k} + ${k}`),
    read: (k, m) => (s.transP ? `${s.p}[${k} * ${d.m} + ${m}]` : `${s.p}[${m} * ${d.k} + ${k}]`),
  };
  const q: Operand = {
    x: 'n',
    tile: 'tileQ',
    kContiguous: s.transQ,
    vec: !!s.vecQ && !s.readQ,
    buffer: s.q,
    index: (k, n) => (s.transQ ? `${n} * ${d.k} + ${k}` : `${k} * ${d.n} + ${n}`),
    read: s.readQ ?? ((k, n) => (s.transQ ? `${s.q}[${n} * ${d.k} + ${k}]` : `${s.q}[${k} * ${d.n} + ${n}]`)),
  };
  const [lp, lq] = [operandCode(p, d, cfg, `${acc}LdP`), operandCode(q, d, cfg, `${acc}LdQ`)];
  const loadBoth = `if (inside) {
        ${lp.loads(false)}
        ${lq.loads(false)}
      } else {
        ${lp.loads(true)}
        ${lq.loads(true)}
      }`;
  const product: string[] = [];
  for (let kk = 0; kk < TK; kk++) {
    const a = Array.from({ length: RM / 4 }, (_, ib) => `let a${ib} = tileP[${kk * lp.stride4 + ib * WY} + ly];`);
    const b = Array.from({ length: RN / 4 }, (_, jb) => `let b${jb} = tileQ[${kk * lq.stride4 + jb * WX} + lx];`);
    const fmas: string[] = [];
    for (let i = 0; i < RM; i++) {
      for (let j = 0; j < RN; j++) {
        const ix = i * RN + j;
        fmas.push(`${acc}[${ix}] = fma(a${i >> 2}[${i & 3}], b${j >> 2}[${j & 3}], ${acc}[${ix}]);`);
      }
    }
    product.push(`{\n        ${[...a, ...b].join(' ')}\n        ${fmas.join('\n        ')}\n      }`);
  }
  return /* wgsl */ `
  {
    let inside = row0 + ${WY * RM} <= ${d.m} && col0 + ${WX * RN} <= ${d.n} && ${d.k} > 0 && ${d.k} % ${TK} == 0;
    ${lp.declare} ${lq.declare}
    {
      let k0 = 0;
      ${loadBoth}
    }
    for (var kt = 0; kt < ${d.k}; kt = kt + ${TK}) {
      ${lp.store}
      ${lq.store}
      workgroupBarrier();
      let k0 = kt + ${TK};
      if (k0 < ${d.k}) {
        ${loadBoth}
      }
      ${product.join('\n      ')}
      workgroupBarrier();
    }
  }`;
}
