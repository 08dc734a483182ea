// The frozen-weight matmuls of precision 'f16-base': W is read as halves (kernels/half.ts),
// products accumulate in f32.
//
//   C[M, N] = α1 · P1 · op(W)  [+ α2 · P2 · op(Q2)]  [+ ACC]
//
// P1 [M, K1] is float32 (x forward, dy backward). op(W) is Wᵀ (W stored [N, K1], the forward
// x·Wᵀ) or W (stored [K1, N], the input gradient dy·W). The optional second segment is the LoRA
// term in float32 (u·Bᵀ forward, du·A backward), as in matmul.wgsl.ts, so the LoRA linear stays
// one pass. Uniforms: dimM, dimN, dimK1, dimK2, alpha1, alpha2.
//
// Two kernels, picked by what the device offers (kernels/matmul-f16.ts):
//
// `matmulHalfWgsl` (SIMT, needs shader-f16): a 64×64 tile per workgroup of 16×16 lanes, 4×4
// outputs per lane, K sixteen at a time through workgroup memory. The W tile is held as halves
// (half the workgroup memory and global traffic of float32); P stays float32, so an activation
// beyond ±65504 or a gradient below f16's smallest normal (6·10⁻⁵) is never rounded — each
// product f32(w)·p is exact to f32, as is a half times a float32.
//
// `matmulSubgroupMatrixWgsl` (chromium-experimental-subgroup-matrix, f16 × f16 → f32): the
// matrix units. Both factors must be halves, so each row of P1 is scaled by a power of two that
// puts its largest |value| in [2¹⁴, 2¹⁵) before rounding to f16 and the row of C is scaled back
// (exact: powers of two), which keeps small gradients from flushing to zero and large
// activations from overflowing. A 64×64 tile per workgroup of 4 subgroups (lanes = 4 × the
// adapter's largest subgroup size); each subgroup owns a 32×32 quadrant of result matrices;
// tiles of P1 (as scaled halves) and op(W) are staged in workgroup memory with zeros outside the
// matrix, so edge tiles need no special case; results go through a per-subgroup staging area so
// that α, the row scale, bounds and ACC are applied per element. The LoRA segment is not fused
// here: matmul-f16.ts adds it with the float32 matmul's accumulator input.

export const HT = { WX: 16, WY: 16, RM: 4, RN: 4, TK: 16 } as const;
const TM = HT.WY * HT.RM;
const TN = HT.WX * HT.RN;

export interface HalfSegments {
  /** op(W) = Wᵀ (forward) rather than W (input gradient). */
  transW: boolean;
  /** The float32 LoRA segment, and whether its Q is transposed (Bᵀ forward, A backward). */
  lora: { transQ: boolean } | null;
  accumulate: boolean;
}

/** Fills `tile` (type `ty`, [TK][extent]) with a K-slice of rows of P (`x` = 'm') or columns of op(Q). */
function fill(tile: string, ty: 'f16' | 'f32', x: 'm' | 'n', kContiguous: boolean, read: (gk: string, gx: string) => string, dk: string, dx: string): string {
  const threads = HT.WX * HT.WY;
  const extent = x === 'm' ? TM : TN;
  const [xx, gx, origin] = [`${x}${x}`, `g${x}`, x === 'm' ? 'row0' : 'col0'];
  const split = kContiguous ? `let ${xx} = idx / ${HT.TK}; let kk = idx % ${HT.TK};` : `let kk = idx / ${extent}; let ${xx} = idx % ${extent};`;
  return /* wgsl */ `
    for (var e = 0; e < ${(extent * HT.TK) / threads}; e = e + 1) {
      let idx = tid + e * ${threads};
      ${split}
      let gk = k0 + kk; let ${gx} = ${origin} + ${xx};
      var v = ${ty}(0);
      if (gk < ${dk} && ${gx} < ${dx}) { v = ${read('gk', gx)}; }
      ${tile}[kk * ${extent} + ${xx}] = v;
    }`;
}

function product(acc: string, tp: string, tq: string, readP: (gk: string, gm: string) => string, readQ: (gk: string, gn: string) => string, qKContiguous: boolean, qType: 'f16' | 'f32', dk: string): string {
  return /* wgsl */ `
  for (var k0 = 0; k0 < ${dk}; k0 = k0 + ${HT.TK}) {${fill(tp, 'f32', 'm', true, readP, dk, 'uniforms.dimM')}${fill(tq, qType, 'n', qKContiguous, readQ, dk, 'uniforms.dimN')}
    workgroupBarrier();
    for (var kk = 0; kk < ${HT.TK}; kk = kk + 1) {
      var a : array<f32, ${HT.RM}>;
      var b : array<f32, ${HT.RN}>;
      for (var i = 0; i < ${HT.RM}; i = i + 1) { a[i] = ${tp}[kk * ${TM} + ly + i * ${HT.WY}]; }
      for (var j = 0; j < ${HT.RN}; j = j + 1) { b[j] = f32(${tq}[kk * ${TN} + lx + j * ${HT.WX}]); }
      for (var i = 0; i < ${HT.RM}; i = i + 1) {
        for (var j = 0; j < ${HT.RN}; j = j + 1) {
          ${acc}[i * ${HT.RN} + j] = ${acc}[i * ${HT.RN} + j] + a[i] * b[j];
        }
      }
    }
    workgroupBarrier();
  }`;
}

/** The read of op(W)[k][n] from the halves. */
const readW = (transW: boolean) => (gk: string, gn: string) => (transW ? `W[${gn} * uniforms.dimK1 + ${gk}]` : `W[${gk} * uniforms.dimN + ${gn}]`);

/** SIMT: inputs P1, W (halves), [P2, Q2], [ACC]; output `result`. */
export function matmulHalfWgsl(s: HalfSegments): string {
  const lora = s.lora;
  const frozen = product('acc1', 'tileP', 'tileW', (gk, gm) => `P1[${gm} * uniforms.dimK1 + ${gk}]`, readW(s.transW), s.transW, 'f16', 'uniforms.dimK1');
  const low = lora
    ? product(
        'acc2',
        'tileP',
        'tileQ',
        (gk, gm) => `P2[${gm} * uniforms.dimK2 + ${gk}]`,
        (gk, gn) => (lora.transQ ? `Q2[${gn} * uniforms.dimK2 + ${gk}]` : `Q2[${gk} * uniforms.dimN + ${gn}]`),
        lora.transQ,
        'f32',
        'uniforms.dimK2',
      )
    : '';
  const value = [s.accumulate ? 'ACC[row * uniforms.dimN + col]' : '', `uniforms.alpha1 * acc1[i * ${HT.RN} + j]`, lora ? `uniforms.alpha2 * acc2[i * ${HT.RN} + j]` : ''].filter(Boolean).join(' + ');
  return /* wgsl */ `
var<workgroup> tileP : array<f32, ${TM * HT.TK}>;
var<workgroup> tileW : array<f16, ${TN * HT.TK}>;
${lora ? `var<workgroup> tileQ : array<f32, ${TN * HT.TK}>;` : ''}

fn main() {
  let lx = i32(localId.x);
  let ly = i32(localId.y);
  let tid = ly * ${HT.WX} + lx;
  let col0 = i32(workgroupId.x) * ${TN};
  let row0 = i32(workgroupId.y) * ${TM};
  var acc1 : array<f32, ${HT.RM * HT.RN}>;${frozen}
  ${lora ? `var acc2 : array<f32, ${HT.RM * HT.RN}>;${low}` : ''}
  for (var i = 0; i < ${HT.RM}; i = i + 1) {
    let row = row0 + ly + i * ${HT.WY};
    for (var j = 0; j < ${HT.RN}; j = j + 1) {
      let col = col0 + lx + j * ${HT.WX};
      if (row < uniforms.dimM && col < uniforms.dimN) {
        result[row * uniforms.dimN + col] = ${value};
      }
    }
  }
}
`;
}

/** A matrix shape of the adapter's matrix units: result M×N, inner K. */
export interface MatrixShape {
  M: number;
  N: number;
  K: number;
}

/** The subgroup-matrix workgroup tile and K step. */
export const SG_TILE = { BM: 64, BN: 64, BK: 32 } as const;

/**
 * Subgroup matrices: inputs P1, W (halves), [ACC]; output `result`. `lanes` = 4 × the adapter's
 * largest subgroup size, so a workgroup has at least 4 subgroups; subgroup s owns quadrant s % 4
 * (with more than 4 subgroups — a smaller subgroup size than the largest — the extra ones
 * compute a quadrant again and store the same values).
 */
export function matmulSubgroupMatrixWgsl(transW: boolean, accumulate: boolean, shape: MatrixShape, lanes: number): string {
  const { BM, BN, BK } = SG_TILE;
  const { M, N, K } = shape;
  const QM = BM / 2;
  const QN = BN / 2;
  const rowsM = QM / M;
  const colsN = QN / N;
  const left = `subgroup_matrix_left<f16, ${K}, ${M}>`;
  const right = `subgroup_matrix_right<f16, ${N}, ${K}>`;
  const res = `subgroup_matrix_result<f32, ${N}, ${M}>`;
  const accs: string[] = [];
  for (let i = 0; i < rowsM; i++) for (let j = 0; j < colsN; j++) accs.push(`c${i}_${j}`);
  const mults: string[] = [];
  for (let i = 0; i < rowsM; i++) {
    mults.push(`let a${i} = subgroupMatrixLoad<${left}, row_major>(&tileA, u32((qr + ${i * M}) * ${BK} + kk), ${BK}u);`);
  }
  for (let j = 0; j < colsN; j++) {
    mults.push(`let b${j} = subgroupMatrixLoad<${right}, row_major>(&tileB, u32(kk * ${BN} + qc + ${j * N}), ${BN}u);`);
  }
  for (let i = 0; i < rowsM; i++) for (let j = 0; j < colsN; j++) mults.push(`c${i}_${j} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, c${i}_${j});`);
  const stores = accs
    .map((c) => {
      const [i, j] = c.slice(1).split('_').map(Number);
      return /* wgsl */ `
  subgroupMatrixStore<row_major>(&stage, u32(q * ${M * N}), ${c}, ${N}u);
  workgroupBarrier();
  for (var e = i32(subgroupLane); e < ${M * N}; e = e + i32(subgroupSize)) {
    let row = row0 + qr + ${i * M} + e / ${N};
    let col = col0 + qc + ${j * N} + e % ${N};
    if (row < uniforms.dimM && col < uniforms.dimN) {
      result[row * uniforms.dimN + col] = ${accumulate ? 'ACC[row * uniforms.dimN + col] + ' : ''}uniforms.alpha1 * stage[q * ${M * N} + e] * rowDown[qr + ${i * M} + e / ${N}];
    }
  }
  workgroupBarrier();`;
    })
    .join('');
  return /* wgsl */ `
var<workgroup> tileA : array<f16, ${BM * BK}>;
var<workgroup> tileB : array<f16, ${BK * BN}>;
var<workgroup> stage : array<f32, ${4 * M * N}>;
var<workgroup> rowUp : array<f32, ${BM}>;
var<workgroup> rowDown : array<f32, ${BM}>;

fn main() {
  let tid = i32(localIndex);
  let col0 = i32(workgroupId.x) * ${BN};
  let row0 = i32(workgroupId.y) * ${BM};
  let q = i32(localIndex / subgroupSize) % 4;
  let qr = (q / 2) * ${QM};
  let qc = (q % 2) * ${QN};
  // Each row's largest |value|, then the power of two that scales it into [2^14, 2^15).
  for (var r = tid; r < ${BM}; r = r + ${lanes}) {
    var m = 0.0;
    let gm = row0 + r;
    if (gm < uniforms.dimM) {
      for (var k = 0; k < uniforms.dimK1; k = k + 1) { m = max(m, abs(P1[gm * uniforms.dimK1 + k])); }
    }
    var s = 1.0;
    if (m > 0.0) { s = ldexp(1.0, 15 - frexp(m).exp); }
    rowUp[r] = s;
    rowDown[r] = 1.0 / s;
  }
  workgroupBarrier();
${accs.map((c) => `  var ${c} : ${res};`).join('\n')}
  for (var k0 = 0; k0 < uniforms.dimK1; k0 = k0 + ${BK}) {
    for (var idx = tid; idx < ${BM * BK}; idx = idx + ${lanes}) {
      let mm = idx / ${BK}; let kk = idx % ${BK};
      let gm = row0 + mm; let gk = k0 + kk;
      var v = f16(0);
      if (gm < uniforms.dimM && gk < uniforms.dimK1) { v = f16(P1[gm * uniforms.dimK1 + gk] * rowUp[mm]); }
      tileA[idx] = v;
    }
    for (var idx = tid; idx < ${BK * BN}; idx = idx + ${lanes}) {
      ${transW ? `let nn = idx / ${BK}; let kk = idx % ${BK};` : `let kk = idx / ${BN}; let nn = idx % ${BN};`}
      let gn = col0 + nn; let gk = k0 + kk;
      var v = f16(0);
      if (gn < uniforms.dimN && gk < uniforms.dimK1) { v = ${readW(transW)('gk', 'gn')}; }
      tileB[kk * ${BN} + nn] = v;
    }
    workgroupBarrier();
    for (var kk = 0; kk < ${BK}; kk = kk + ${K}) {
      ${mults.join('\n      ')}
    }
    workgroupBarrier();
  }
${stores}
}
`;
}
