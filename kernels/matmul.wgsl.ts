// Tiled matmuls for the LoRA linear.
//
// `matmulWgsl`: up to two K segments into one output, which is what makes the LoRA linear one
// pass:
//
//   C[M, N] = α1 · op(P1) · op(Q1)  +  α2 · op(P2) · op(Q2)
//
// op(P) is [M, K] (stored [K, M] when transposed), op(Q) is [K, N] (stored [N, K] when
// transposed). With segment 1 = x·Wᵀ and segment 2 = u·Bᵀ (u = x·Aᵀ) it is the LoRA forward;
// with dy·W and du·A it is the LoRA input gradient. Uniforms: dimM, dimN, dimK1, dimK2,
// alpha1, alpha2.
//
// `groupedMatmulWgsl` (two outputs, OUTA and OUTB): two independent products in one dispatch, each
// into its own output — the LoRA weight gradients dA = duᵀ·x and dB = s·dyᵀ·u. Workgroups
// 0..tilesA-1 take tiles of the first, the rest tiles of the second. Uniforms: mA, nA, kA,
// alphaA, tilesA, tilesAN, mB, nB, kB, alphaB, tilesBN.
//
// Each workgroup of WX×WY lanes owns a (WY·RM)×(WX·RN) tile of its output; each lane a strided
// RM×RN block of it; K advances TK at a time through workgroup memory. A config with `vec4` runs
// the register-blocked K loop of matmul-vec4.wgsl.ts instead (16-byte loads, padded workgroup
// memory, prefetch, unrolled outer product, unchecked interior tiles) with lanes owning 4 × 4
// blocks; `laneRow` / `laneCol` say which rows and columns a lane's accumulators are.
import { segmentVec4, vec4Tiles } from './matmul-vec4.wgsl';

export interface Segment {
  p: string;
  q: string;
  transP: boolean;
  transQ: boolean;
  /** Overrides the Q read: the WGSL expression of op(Q)[k][n] (bounds already checked). */
  readQ?: (k: string, n: string) => string;
  /** vec4 configs: P / Q is bound as array<vec4<f32>> (its contiguous axis' length is a multiple of 4). */
  vecP?: boolean;
  vecQ?: boolean;
}

/** Lanes WX × WY, each owning RM × RN outputs; K advances TK at a time. */
export interface TileConfig {
  WX: number;
  WY: number;
  RM: number;
  RN: number;
  TK: number;
  /** The register-blocked kernel of matmul-vec4.wgsl.ts (RM, RN, TK multiples of 4). */
  vec4?: boolean;
}

/** The default tiling (64×64 tiles); kernels/tuning.ts may pick another per problem. */
export const MM: TileConfig = { WX: 16, WY: 16, RM: 4, RN: 4, TK: 16 };
export const tileM = (c: TileConfig) => c.WY * c.RM;
export const tileN = (c: TileConfig) => c.WX * c.RN;
/** Bytes of workgroup memory the tiles of `c` take (WebGPU's default limit is 16 KiB). */
export const tileBytes = (c: TileConfig) => 4 * c.TK * (c.vec4 ? tileM(c) + tileN(c) + 8 : tileM(c) + tileN(c));
export const tileKey = (c: TileConfig) => `${c.WX}x${c.WY}_${c.RM}x${c.RN}_${c.TK}${c.vec4 ? '_v4' : ''}`;

/** The tile row (WGSL) of a lane's accumulator row `i` (an expression), given `ly`. */
export const laneRow = (c: TileConfig, i: string) => (c.vec4 ? `((${i}) / 4 * ${4 * c.WY} + ly * 4 + (${i}) % 4)` : `(ly + (${i}) * ${c.WY})`);
/** The tile column of a lane's accumulator column `j`, given `lx`. */
export const laneCol = (c: TileConfig, j: string) => (c.vec4 ? `((${j}) / 4 * ${4 * c.WX} + lx * 4 + (${j}) % 4)` : `(lx + (${j}) * ${c.WX})`);

export interface Dims {
  m: string;
  n: string;
  k: string;
}

/**
 * Fills workgroup tile `tile` with the K-slice k0 … k0 + TK of an operand: rows m of op(P)
 * (`x` = 'm') or columns n of op(Q) (`x` = 'n'), zero outside the matrix. The lane index runs
 * fastest along the axis the operand is stored contiguous in (`kContiguous`: along K), so that
 * neighbouring lanes read neighbouring addresses.
 */
function fillTile(tile: string, x: 'm' | 'n', kContiguous: boolean, read: (gk: string, gx: string) => string, d: Dims, cfg: TileConfig): string {
  const extent = x === 'm' ? tileM(cfg) : tileN(cfg);
  const threads = cfg.WX * cfg.WY;
  const [xx, gx, origin] = [`${x}${x}`, `g${x}`, x === 'm' ? 'row0' : 'col0'];
  const split = kContiguous ? `let ${xx} = idx / ${cfg.TK}; let kk = idx % ${cfg.TK};` : `let kk = idx / ${extent}; let ${xx} = idx % ${extent};`;
  return /* wgsl */ `
    for (var e = 0; e < ${(extent * cfg.TK) / threads}; e = e + 1) {
      let idx = tid + e * ${threads};
      {
        ${split}
        let gk = k0 + kk; let ${gx} = ${origin} + ${xx};
        var v = 0.0;
        if (gk < ${d.k} && ${gx} < ${d[x]}) { v = ${read('gk', gx)}; }
        ${tile}[kk * ${extent} + ${xx}] = v;
      }
    }`;
}

/** Accumulates op(P)·op(Q) for the tile at (row0, col0) into `acc`. */
export function segment(s: Segment, d: Dims, acc: string, cfg: TileConfig = MM): string {
  if (cfg.vec4) return segmentVec4(s, d, acc, cfg);
  const { WX, WY, RM, RN, TK } = cfg;
  const readP = (gk: string, gm: string) => (s.transP ? `${s.p}[${gk} * ${d.m} + ${gm}]` : `${s.p}[${gm} * ${d.k} + ${gk}]`);
  const readQ = s.readQ ?? ((gk: string, gn: string) => (s.transQ ? `${s.q}[${gn} * ${d.k} + ${gk}]` : `${s.q}[${gk} * ${d.n} + ${gn}]`));
  return /* wgsl */ `
  for (var k0 = 0; k0 < ${d.k}; k0 = k0 + ${TK}) {${fillTile('tileP', 'm', !s.transP, readP, d, cfg)}${fillTile('tileQ', 'n', !s.readQ && s.transQ, readQ, d, cfg)}
    workgroupBarrier();
    for (var kk = 0; kk < ${TK}; kk = kk + 1) {
      var a : array<f32, ${RM}>;
      var b : array<f32, ${RN}>;
      for (var i = 0; i < ${RM}; i = i + 1) { a[i] = tileP[kk * ${tileM(cfg)} + ly + i * ${WY}]; }
      for (var j = 0; j < ${RN}; j = j + 1) { b[j] = tileQ[kk * ${tileN(cfg)} + lx + j * ${WX}]; }
      for (var i = 0; i < ${RM}; i = i + 1) {
        for (var j = 0; j < ${RN}; j = j + 1) {
          ${acc}[i * ${RN} + j] = ${acc}[i * ${RN} + j] + a[i] * b[j];
        }
      }
    }
    workgroupBarrier();
  }`;
}

/** Writes the tile's `value` (of i, j, row, col) into `out` [m, n], or via a custom `write`. */
export function store(out: string, d: Pick<Dims, 'm' | 'n'>, value: string, write?: (row: string, col: string, value: string) => string, cfg: TileConfig = MM): string {
  const { WX, WY, RM, RN } = cfg;
  const put = write ? write('row', 'col', value) : `${out}[row * ${d.n} + col] = ${value};`;
  if (cfg.vec4) {
    // Unrolled: every accumulator index a constant, so the array stays in registers.
    const blocks: string[] = [];
    for (let i = 0; i < RM; i++) {
      for (let j = 0; j < RN; j++) {
        blocks.push(`{ const i = ${i}; const j = ${j}; let row = row0 + ${laneRow(cfg, 'i')}; let col = col0 + ${laneCol(cfg, 'j')}; if (row < ${d.m} && col < ${d.n}) { ${put} } }`);
      }
    }
    return `\n  ${blocks.join('\n  ')}`;
  }
  return /* wgsl */ `
  for (var i = 0; i < ${RM}; i = i + 1) {
    let row = row0 + ly + i * ${WY};
    for (var j = 0; j < ${RN}; j = j + 1) {
      let col = col0 + lx + j * ${WX};
      if (row < ${d.m} && col < ${d.n}) {
        ${put}
      }
    }
  }`;
}

const sharedTiles = (c: TileConfig) =>
  c.vec4
    ? vec4Tiles(c)
    : /* wgsl */ `
var<workgroup> tileP : array<f32, ${tileM(c) * c.TK}>;
var<workgroup> tileQ : array<f32, ${tileN(c) * c.TK}>;
`;

const laneIds = (c: TileConfig) => /* wgsl */ `
  let lx = i32(localId.x);
  let ly = i32(localId.y);
  let tid = ly * ${c.WX} + lx;`;

/** One product of a tiled shader: op(P)·op(Q) of `seg` over `d`, accumulated in the array `acc`. */
interface Product {
  seg: Segment;
  d: Dims;
  acc: string;
}

/**
 * A shader whose workgroups each own one output tile: `helpers` (WGSL functions), then a main
 * that accumulates every product into its own registers and ends with `epilogue` (usually a
 * store of some combination of them).
 */
export function tiledProduct(products: Product[], epilogue: string, helpers = '', cfg: TileConfig = MM): string {
  return /* wgsl */ `
${sharedTiles(cfg)}
${helpers}
fn main() {
  ${laneIds(cfg)}
  let col0 = i32(workgroupId.x) * ${tileN(cfg)};
  let row0 = i32(workgroupId.y) * ${tileM(cfg)};
${products.map(({ seg, d, acc }) => `  var ${acc} : array<f32, ${cfg.RM * cfg.RN}>;${segment(seg, d, acc, cfg)}`).join('\n')}
  ${epilogue}
}
`;
}

/** With `accumulate`, the input ACC [M, N] is added to the result. */
export function matmulWgsl(seg1: Segment, seg2: Segment | null, accumulate = false, cfg: TileConfig = MM): string {
  const d1 = { m: 'uniforms.dimM', n: 'uniforms.dimN', k: 'uniforms.dimK1' };
  const d2 = { ...d1, k: 'uniforms.dimK2' };
  const ij = `i * ${cfg.RN} + j`;
  const products = [{ seg: seg1, d: d1, acc: 'acc1' }, ...(seg2 ? [{ seg: seg2, d: d2, acc: 'acc2' }] : [])];
  const value = (accumulate ? 'ACC[row * uniforms.dimN + col] + ' : '') + products.map((p, i) => `uniforms.alpha${i + 1} * ${p.acc}[${ij}]`).join(' + ');
  return tiledProduct(products, store('result', d1, value, undefined, cfg), '', cfg);
}

/** Outputs OUTA = αA·op(PA)·op(QA) and OUTB = αB·op(PB)·op(QB). */
export function groupedMatmulWgsl(a: Segment, b: Segment, cfg: TileConfig = MM): string {
  const dA = { m: 'uniforms.mA', n: 'uniforms.nA', k: 'uniforms.kA' };
  const dB = { m: 'uniforms.mB', n: 'uniforms.nB', k: 'uniforms.kB' };
  const ij = `i * ${cfg.RN} + j`;
  return /* wgsl */ `
${sharedTiles(cfg)}
var<workgroup> tileIndex : i32;

fn main() {
  ${laneIds(cfg)}
  if (tid == 0) {
    tileIndex = i32(workgroupId.x);
  }
  // Through workgroup memory so that the branch below is uniform (it holds barriers).
  let t = workgroupUniformLoad(&tileIndex);
  var acc : array<f32, ${cfg.RM * cfg.RN}>;
  if (t < uniforms.tilesA) {
    let col0 = (t % uniforms.tilesAN) * ${tileN(cfg)};
    let row0 = (t / uniforms.tilesAN) * ${tileM(cfg)};
    ${segment(a, dA, 'acc', cfg)}
    ${store('OUTA', dA, `uniforms.alphaA * acc[${ij}]`, undefined, cfg)}
  } else {
    let tb = t - uniforms.tilesA;
    let col0 = (tb % uniforms.tilesBN) * ${tileN(cfg)};
    let row0 = (tb / uniforms.tilesBN) * ${tileM(cfg)};
    ${segment(b, dB, 'acc', cfg)}
    ${store('OUTB', dB, `uniforms.alphaB * acc[${ij}]`, undefined, cfg)}
  }
}
`;
}

/**
 * The LoRA down-projections of several linears that share their input (q/k/v, gate/up), in one
 * dispatch: U_p = X·A_pᵀ for p < parts, each A_p [r, K], as one product X·[A_0; A_1; …]ᵀ whose
 * columns are split over the A buffers on load and over the outputs U_p [M, r] on store.
 * Uniforms: dimM, dimN (= parts·r), dimK, rank.
 */
export function loraDownWgsl(parts: number, cfg: TileConfig = MM, vecX = false): string {
  const pick = (n: string, f: (p: number) => string) =>
    Array.from({ length: parts }, (_, p) => (p === parts - 1 ? `{ ${f(p)} }` : `if (${n} < ${p + 1} * uniforms.rank) { ${f(p)} } else `)).join('');
  const seg: Segment = {
    p: 'X',
    q: '',
    transP: false,
    transQ: true,
    readQ: (k, n) => `readA(${k}, ${n})`,
    vecP: vecX,
  };
  const d = { m: 'uniforms.dimM', n: 'uniforms.dimN', k: 'uniforms.dimK' };
  const helpers = /* wgsl */ `
fn readA(k : i32, n : i32) -> f32 {
  let c = n % uniforms.rank;
  ${pick('n', (p) => `return A${p}[c * uniforms.dimK + k];`)}
}

fn writeU(row : i32, n : i32, v : f32) {
  let c = n % uniforms.rank;
  ${pick('n', (p) => `U${p}[row * uniforms.rank + c] = v;`)}
}`;
  return tiledProduct([{ seg, d, acc: 'acc' }], store('', d, `acc[i * ${cfg.RN} + j]`, (row, col, value) => `writeU(${row}, ${col}, ${value});`, cfg), helpers, cfg);
}
