// Cross-entropy fused with the lm_head, for the selected (trained) rows h [N, H] of the final
// hidden states, the frozen head W [V, H] and the targets [N]. Full logits [N, V] never exist.
//
// Forward, two dispatches:
//   partials: each workgroup computes one 64×64 logits tile z = h·Wᵀ in registers (the tiled
//     matmul of matmul.wgsl.ts) and reduces it per row to (tile max, Σ exp(z − max), target
//     logit if the row's target falls in the tile, else 0) → PART [N, tiles, 3].
//   combine: one workgroup per row folds its tiles' partials (online logsumexp) into
//     lse [N] and loss = lse − z_target [N].
// Backward, two dispatches per vocabulary chunk of Vc columns (the chunk bounds the only
// [N, Vc] intermediate; cross-entropy.ts picks Vc):
//   G = dy ⊙ (exp(z − lse) − onehot(target)) for the chunk's columns, recomputing z = h·W_cᵀ
//     with the tiled matmul and applying this in its store;
//   dh (+)= G·W_c, the tiled matmul reading the chunk's rows of W in place.
import { laneCol, laneRow, MM, store, tiledProduct, tileM, tileN, type Segment, type TileConfig } from './matmul.wgsl';
// The float32 lowest, as a starting maximum: -inf arithmetic is not guaranteed in WGSL.
const LOWEST = '-3.40282e38';

/** W read as float32: as is, or from halves (precision f16-base, W bound as array<f16>). */
const readW = (half: boolean, index: string) => (half ? `f32(W[${index}])` : `W[${index}]`);

/** z = h·Wᵀ, rows of W offset by `uniforms.v0` and limited to the chunk's `uniforms.dimN`. */
const logitsSegment = (half: boolean, vecH: boolean): Segment => ({
  vecP: vecH,
  p: 'HID',
  q: '',
  transP: false,
  transQ: true,
  readQ: (k, n) => readW(half, `(uniforms.v0 + ${n}) * uniforms.dimK + ${k}`),
});

const dims = { m: 'uniforms.dimM', n: 'uniforms.dimN', k: 'uniforms.dimK' };

/** PART [N, tiles, 3]. Uniforms: dimM (N), dimN (V), dimK (H), v0 (0), tiles. */
export function partialsWgsl(half = false, cfg: TileConfig = MM, vecH = false): string {
  const { WX, RM, RN } = cfg;
  const TILE_M = tileM(cfg);
  const TILE_N = tileN(cfg);
  // The tile row and column of a lane's accumulator (i, j).
  const r = laneRow(cfg, 'i');
  const c = laneCol(cfg, 'j');
  const helpers = /* wgsl */ `var<workgroup> red : array<f32, ${TILE_M * WX}>;`;
  const epilogue = /* wgsl */ `
  let tile = i32(workgroupId.x);
  // Row maxima over the tile: each lane's columns, then across the ${WX} lanes of a row.
  for (var i = 0; i < ${RM}; i = i + 1) {
    var m = ${LOWEST};
    for (var j = 0; j < ${RN}; j = j + 1) {
      if (col0 + ${c} < uniforms.dimN) { m = max(m, acc[i * ${RN} + j]); }
    }
    red[${r} * ${WX} + lx] = m;
  }
  workgroupBarrier();
  var rowMax : array<f32, ${RM}>;
  for (var i = 0; i < ${RM}; i = i + 1) {
    rowMax[i] = ${LOWEST};
    for (var x = 0; x < ${WX}; x = x + 1) { rowMax[i] = max(rowMax[i], red[${r} * ${WX} + x]); }
  }
  workgroupBarrier();
  for (var i = 0; i < ${RM}; i = i + 1) {
    var s = 0.0;
    for (var j = 0; j < ${RN}; j = j + 1) {
      if (col0 + ${c} < uniforms.dimN) { s = s + exp(acc[i * ${RN} + j] - rowMax[i]); }
    }
    red[${r} * ${WX} + lx] = s;
  }
  workgroupBarrier();

  for (var i = 0; i < ${RM}; i = i + 1) {
    let row = row0 + ${r};
    if (row < uniforms.dimM) {
      let base = (row * uniforms.tiles + tile) * 3;
      let label = LABELS[row];
      if (lx == 0) {
        var s = 0.0;
        for (var x = 0; x < ${WX}; x = x + 1) { s = s + red[${r} * ${WX} + x]; }
        result[base] = rowMax[i];
        result[base + 1] = s;
        if (label < col0 || label >= col0 + ${TILE_N}) { result[base + 2] = 0.0; }
      }
      for (var j = 0; j < ${RN}; j = j + 1) {
        if (col0 + ${c} == label) { result[base + 2] = acc[i * ${RN} + j]; }
      }
    }
  }
`;
  return tiledProduct([{ seg: logitsSegment(half, vecH), d: dims, acc: 'acc' }], epilogue, helpers, cfg);
}

/** LOSS [N] and LSE [N] from PART; one workgroup of `wg` lanes per row. Uniforms: rows, tiles. */
export function combineWgsl(wg: number): string {
  return /* wgsl */ `
var<workgroup> redM : array<f32, ${wg}>;
var<workgroup> redS : array<f32, ${wg}>;
var<workgroup> redT : array<f32, ${wg}>;
var<workgroup> rowIndex : i32;

fn main() {
  let lane = i32(localId.x);
  if (lane == 0) { rowIndex = i32(workgroupId.y * numWorkgroups.x + workgroupId.x); }
  // Through workgroup memory so that the early return is uniform control flow (barriers follow).
  let row = workgroupUniformLoad(&rowIndex);
  if (row >= uniforms.rows) { return; }
  var m = ${LOWEST};
  var s = 0.0;
  var t = 0.0;
  for (var k = lane; k < uniforms.tiles; k = k + ${wg}) {
    let base = (row * uniforms.tiles + k) * 3;
    let mk = PART[base];
    let mNew = max(m, mk);
    s = s * exp(m - mNew) + PART[base + 1] * exp(mk - mNew);
    m = mNew;
    t = t + PART[base + 2];
  }
  redM[lane] = m;
  redS[lane] = s;
  redT[lane] = t;
  workgroupBarrier();
  for (var stride = ${wg / 2}; stride > 0; stride = stride / 2) {
    if (lane < stride) {
      let m2 = redM[lane + stride];
      let mNew = max(redM[lane], m2);
      redS[lane] = redS[lane] * exp(redM[lane] - mNew) + redS[lane + stride] * exp(m2 - mNew);
      redM[lane] = mNew;
      redT[lane] = redT[lane] + redT[lane + stride];
    }
    workgroupBarrier();
  }
  if (lane == 0) {
    let lse = redM[0] + log(redS[0]);
    LSE[row] = lse;
    LOSS[row] = lse - redT[0];
  }
}
`;
}

/**
 * G [N, Vc] = DY ⊙ (softmax − onehot) over the vocabulary columns v0 … v0 + Vc.
 * Uniforms: dimM (N), dimN (Vc), dimK (H), v0.
 */
export function softmaxGradWgsl(half = false, cfg: TileConfig = MM, vecH = false): string {
  return tiledProduct(
    [{ seg: logitsSegment(half, vecH), d: dims, acc: 'acc' }],
    store('result', dims, `acc[i * ${cfg.RN} + j]`, (row, col, value) => `
        var g = exp(${value} - LSE[${row}]);
        if (LABELS[${row}] == uniforms.v0 + ${col}) { g = g - 1.0; }
        result[${row} * uniforms.dimN + ${col}] = DY[${row}] * g;`, cfg),
    '',
    cfg,
  );
}

/** dh [N, H] (+ ACC) = G·W_c, W_c = rows v0 … v0 + Vc of W. Uniforms: dimM (N), dimN (H), dimK (Vc), v0. */
export function headGradWgsl(accumulate: boolean, half = false, cfg: TileConfig = MM, vecG = false): string {
  const seg: Segment = { p: 'G', q: '', transP: false, transQ: false, vecP: vecG, readQ: (k, n) => readW(half, `(uniforms.v0 + ${k}) * uniforms.dimN + ${n}`) };
  return tiledProduct([{ seg, d: dims, acc: 'acc' }], store('result', dims, (accumulate ? 'ACC[row * uniforms.dimN + col] + ' : '') + `acc[i * ${cfg.RN} + j]`, undefined, cfg), '', cfg);
}
