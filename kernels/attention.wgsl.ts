// Causal grouped-query attention that never materialises the T×S score matrix: tiled over
// keys (or queries) through workgroup memory, online softmax forward, FlashAttention-2 style
// backward from saved per-row statistics. One lane owns one query row (or one key row for
// dK/dV) with its head vector in registers; D (head size) and W (lanes = rows per tile) are
// compile-time constants.
//
// Layouts: Q [B, H, T, D]; K, V [B, Hk, S, D] with S = past + T; MASK [B, S] int32 (1 = real
// key); O and DO [B, T, H·D] (the layout o_proj reads); STATS [B, H, T, 2] = (logsumexp, Σ dO·O).
// Query head h reads key/value head h / (H / Hk). Uniforms: heads, kvHeads, seq, keys, past,
// window (sliding window, ≤ keys; keys when there is none), scale.
//
// Semantics, equal to the stock composition (scores·scale + bias, softmax with bias −1e9 on
// keys that are in the future, outside the window or padding):
//   allowed(i, j) = past + i − window < j ≤ past + i and MASK[b, j] ≠ 0
//   a row with no allowed key ("dead") gets, as stock does, a uniform softmax over all S keys —
//   here by treating its scores as 0 for every key; gradients still flow through those scores,
//   as they do through stock's additive bias. The engine's key masks are contiguous (left
//   padding when generating, right padding when training), so dead rows are a prefix — the
//   left-padding queries, i < deadEnd = clamp(firstRealKey − past, 0, T) — and, with a window,
//   a suffix — right-padding queries a window or more past the last real key,
//   i ≥ deadStart = clamp(lastRealKey + window − past, 0, T).
//
// A block of queries walks only the keys its rows reach: from the window's start of its first
// row to its last row (all S keys for a block holding a dead row); a block of keys (dK, dV) only
// the query tiles whose windows reach it. So a sliding layer costs O(T·window), not O(T·S).

export interface AttentionShape {
  d: number;
  w: number;
}

/**
 * Lanes per workgroup for head size d: W·D ≤ 1024, so two W×D tiles take 8 KiB and the kernels
 * stay within WebGPU's default 16 KiB of workgroup memory up to D = 256 (Gemma's); a power of
 * two, which the workgroup's tree reduction needs.
 */
export function attentionLanes(d: number): number {
  return Math.max(4, Math.min(64, 2 ** Math.floor(Math.log2(1024 / d))));
}

// Shared prelude: the uniform block bounds every kernel needs before its tile loop.
const prelude = ({ w }: AttentionShape) => /* wgsl */ `
var<workgroup> scanMin : array<i32, ${w}>;
var<workgroup> scanMax : array<i32, ${w}>;
var<workgroup> bounds : vec4<i32>;

// First and last real key of batch row b (keys and −1 when there is none), reduced over the
// workgroup; valid in scanMin[0] and scanMax[0] afterwards.
fn scanRealKeys(b : i32, lane : i32) {
  var first = uniforms.keys;
  for (var j = lane; j < uniforms.keys; j = j + ${w}) {
    if (MASK[b * uniforms.keys + j] != 0) {
      first = j;
      break;
    }
  }
  var last = -1;
  for (var j = uniforms.keys - 1 - lane; j >= 0; j = j - ${w}) {
    if (MASK[b * uniforms.keys + j] != 0) {
      last = j;
      break;
    }
  }
  scanMin[lane] = first;
  scanMax[lane] = last;
  workgroupBarrier();
  for (var stride = ${w / 2}; stride > 0; stride = stride / 2) {
    if (lane < stride) {
      scanMin[lane] = min(scanMin[lane], scanMin[lane + stride]);
      scanMax[lane] = max(scanMax[lane], scanMax[lane + stride]);
    }
    workgroupBarrier();
  }
}

// Dead query rows: [0, deadEnd) and [deadStart, T).
fn deadEndOf(firstReal : i32) -> i32 {
  return clamp(firstReal - uniforms.past, 0, uniforms.seq);
}

fn deadStartOf(lastReal : i32) -> i32 {
  return clamp(lastReal + uniforms.window - uniforms.past, 0, uniforms.seq);
}

fn isAllowed(b : i32, i : i32, j : i32) -> bool {
  let p = uniforms.past + i;
  return j <= p && j > p - uniforms.window && MASK[b * uniforms.keys + j] != 0;
}
`;

/** The query-row kernels' common head: ids, dead rows, and how many keys the block reaches. */
const queryHead = ({ w }: AttentionShape) => /* wgsl */ `
  let lane = i32(localId.x);
  let b = i32(workgroupId.z);
  let h = i32(workgroupId.y);
  let q0 = i32(workgroupId.x) * ${w};
  let i = q0 + lane;
  let valid = i < uniforms.seq;
  let g = h / (uniforms.heads / uniforms.kvHeads);
  scanRealKeys(b, lane);
  if (lane == 0) {
    let deadEnd = deadEndOf(scanMin[0]);
    let deadStart = deadStartOf(scanMax[0]);
    let qEnd = min(uniforms.seq, q0 + ${w});
    // A block holding a dead row needs every key; otherwise the keys from its first row's
    // window start to its last row.
    var kStart = max(0, uniforms.past + q0 - uniforms.window + 1);
    var kEnd = min(uniforms.keys, uniforms.past + qEnd);
    if (q0 < deadEnd || qEnd > deadStart) {
      kStart = 0;
      kEnd = uniforms.keys;
    }
    bounds = vec4<i32>(deadEnd, deadStart, kStart, kEnd);
  }
  let bnd = workgroupUniformLoad(&bounds);
  let deadEnd = bnd.x;
  let deadStart = bnd.y;
  let kStart = bnd.z;
  let kEnd = bnd.w;
  let dead = i < deadEnd || i >= deadStart;
  let qBase = ((b * uniforms.heads + h) * uniforms.seq + i) * D;
  let oBase = ((b * uniforms.seq + i) * uniforms.heads + h) * D;
  let kvBase = (b * uniforms.kvHeads + g) * uniforms.keys;
  var q : array<f32, D>;
  if (valid) {
    for (var c = 0; c < D; c = c + 1) {
      q[c] = Q[qBase + c];
    }
  }
`;

/** Workgroup tiles of W key rows × D, one per name. */
const keyTiles = ({ w, d }: AttentionShape, names: string[]) => names.map((t) => `var<workgroup> ${t} : array<f32, ${w * d}>;`).join('\n');

/**
 * The query-row kernels' loop over the key blocks a query block reaches: each block's rows of
 * the tiles [tile, source] loaded (zero past S), then per key jj of the block the score s of row
 * i (0 for a dead row) and, where the pair counts, `body`.
 */
const keyLoop = ({ w }: AttentionShape, tiles: [string, string][], body: string) => /* wgsl */ `
  for (var k0 = kStart; k0 < kEnd; k0 = k0 + ${w}) {
    for (var e = lane; e < ${w} * D; e = e + ${w}) {
      let key = k0 + e / D;
      let c = e % D;
${tiles
  .map(
    ([tile, src]) => `      var v${tile} = 0.0;
      if (key < uniforms.keys) {
        v${tile} = ${src}[(kvBase + key) * D + c];
      }
      ${tile}[e] = v${tile};`,
  )
  .join('\n')}
    }
    workgroupBarrier();
    if (valid) {
      for (var jj = 0; jj < ${w}; jj = jj + 1) {
        let j = k0 + jj;
        var counts = false;
        var s = 0.0;
        if (j < uniforms.keys) {
          if (dead) {
            counts = true;
          } else if (isAllowed(b, i, j)) {
            counts = true;
            var dot = 0.0;
            for (var c = 0; c < D; c = c + 1) {
              dot = dot + q[c] * ${tiles[0][0]}[jj * D + c];
            }
            s = dot * uniforms.scale;
          }
        }
        if (counts) {${body}
        }
      }
    }
    workgroupBarrier();
  }`;

/**
 * A kernel with one lane per query row: the tiles [tile, source] it streams keys through, the
 * shared prelude and head, then `before` the key loop, `perKey` for each key that counts (with
 * its score s), and `after`.
 */
const queryKernel = (sh: AttentionShape, tiles: [string, string][], k: { before: string; perKey: string; after: string }) => /* wgsl */ `
const D = ${sh.d};
${keyTiles(sh, tiles.map(([tile]) => tile))}
${prelude(sh)}

fn main() {
  ${queryHead(sh)}${k.before}
  ${keyLoop(sh, tiles, k.perKey)}${k.after}
}
`;

const K_AND_V: [string, string][] = [
  ['tileK', 'K'],
  ['tileV', 'V'],
];

export const attentionForwardWgsl = (sh: AttentionShape) =>
  queryKernel(sh, K_AND_V, {
    before: /* wgsl */ `
  var o : array<f32, D>;
  var m = -3.0e38;
  var l = 0.0;`,
    perKey: /* wgsl */ `
          let mNew = max(m, s);
          let corr = exp(m - mNew);
          let p = exp(s - mNew);
          l = l * corr + p;
          for (var c = 0; c < D; c = c + 1) {
            o[c] = o[c] * corr + p * tileV[jj * D + c];
          }
          m = mNew;`,
    after: /* wgsl */ `
  if (valid) {
    for (var c = 0; c < D; c = c + 1) {
      result[oBase + c] = o[c] / l;
    }
  }`,
  });

/** Per query row: logsumexp of its scores, and Σ dO·O (the softmax-backward row term). */
export const attentionStatsWgsl = (sh: AttentionShape) =>
  queryKernel(sh, [['tileK', 'K']], {
    before: /* wgsl */ `
  var m = -3.0e38;
  var l = 0.0;`,
    perKey: /* wgsl */ `
          let mNew = max(m, s);
          l = l * exp(m - mNew) + exp(s - mNew);
          m = mNew;`,
    after: /* wgsl */ `
  if (valid) {
    var rowDot = 0.0;
    for (var c = 0; c < D; c = c + 1) {
      rowDot = rowDot + DO[oBase + c] * O[oBase + c];
    }
    let sBase = ((b * uniforms.heads + h) * uniforms.seq + i) * 2;
    result[sBase] = m + log(l);
    result[sBase + 1] = rowDot;
  }`,
  });

/** dQ = scale · Σ_j dS_ij k_j with dS = P ∘ (dO·Vᵀ − Σ dO·O). */
export const attentionGradQWgsl = (sh: AttentionShape) =>
  queryKernel(sh, K_AND_V, {
    before: /* wgsl */ `
  var dO : array<f32, D>;
  var lse = 0.0;
  var rowDot = 0.0;
  if (valid) {
    for (var c = 0; c < D; c = c + 1) {
      dO[c] = DO[oBase + c];
    }
    let sBase = ((b * uniforms.heads + h) * uniforms.seq + i) * 2;
    lse = STATS[sBase];
    rowDot = STATS[sBase + 1];
  }
  var dq : array<f32, D>;`,
    perKey: /* wgsl */ `
          let p = exp(s - lse);
          var dp = 0.0;
          for (var c = 0; c < D; c = c + 1) {
            dp = dp + dO[c] * tileV[jj * D + c];
          }
          let ds = p * (dp - rowDot);
          for (var c = 0; c < D; c = c + 1) {
            dq[c] = dq[c] + ds * tileK[jj * D + c];
          }`,
    after: /* wgsl */ `
  if (valid) {
    for (var c = 0; c < D; c = c + 1) {
      result[qBase + c] = dq[c] * uniforms.scale;
    }
  }`,
  });

/**
 * dK and dV (two outputs: DK, DV) for one key row per lane, summed over the query heads
 * of its group and over the query tiles that reach it (the causal ones, and dead rows):
 *   dV_j = Σ_i P_ij dO_i,   dK_j = scale · Σ_i dS_ij q_i,   dS_ij = P_ij (dO_i·v_j − Σ dO_i·O_i)
 */
export const attentionGradKVWgsl = (sh: AttentionShape) => /* wgsl */ `
const D = ${sh.d};
${keyTiles(sh, ['tileQ', 'tileDO'])}
var<workgroup> tileStats : array<f32, ${sh.w * 2}>;
${prelude(sh)}

fn main() {
  let lane = i32(localId.x);
  let b = i32(workgroupId.z);
  let g = i32(workgroupId.y);
  let k0 = i32(workgroupId.x) * ${sh.w};
  let j = k0 + lane;
  let valid = j < uniforms.keys;
  let groups = uniforms.heads / uniforms.kvHeads;
  scanRealKeys(b, lane);
  if (lane == 0) {
    // Query tiles firstCausal … lastCausal see some key of this block (causally and within the
    // window); others only through their dead rows.
    let lastRow = k0 + ${sh.w} - 2 + uniforms.window - uniforms.past;
    var lastCausal = -1;
    if (lastRow >= 0) {
      lastCausal = lastRow / ${sh.w};
    }
    bounds = vec4<i32>(deadEndOf(scanMin[0]), deadStartOf(scanMax[0]), max(0, k0 - uniforms.past) / ${sh.w}, lastCausal);
  }
  let bnd = workgroupUniformLoad(&bounds);
  let deadEnd = bnd.x;
  let deadStart = bnd.y;
  let firstCausal = bnd.z;
  let lastCausal = bnd.w;
  let kvRow = ((b * uniforms.kvHeads + g) * uniforms.keys + j) * D;
  var kj : array<f32, D>;
  var vj : array<f32, D>;
  var keyReal = false;
  if (valid) {
    keyReal = MASK[b * uniforms.keys + j] != 0;
    for (var c = 0; c < D; c = c + 1) {
      kj[c] = K[kvRow + c];
      vj[c] = V[kvRow + c];
    }
  }
  var dk : array<f32, D>;
  var dv : array<f32, D>;
  let tiles = (uniforms.seq + ${sh.w} - 1) / ${sh.w};
  for (var hh = 0; hh < groups; hh = hh + 1) {
    let h = g * groups + hh;
    for (var t = 0; t < tiles; t = t + 1) {
      let i0 = t * ${sh.w};
      if ((t >= firstCausal && t <= lastCausal) || i0 < deadEnd || min(uniforms.seq, i0 + ${sh.w}) > deadStart) {
        for (var e = lane; e < ${sh.w} * D; e = e + ${sh.w}) {
          let i = i0 + e / D;
          let c = e % D;
          var vq = 0.0;
          var vdo = 0.0;
          if (i < uniforms.seq) {
            vq = Q[((b * uniforms.heads + h) * uniforms.seq + i) * D + c];
            vdo = DO[((b * uniforms.seq + i) * uniforms.heads + h) * D + c];
          }
          tileQ[e] = vq;
          tileDO[e] = vdo;
        }
        for (var e = lane; e < ${sh.w * 2}; e = e + ${sh.w}) {
          let i = i0 + e / 2;
          var vs = 0.0;
          if (i < uniforms.seq) {
            vs = STATS[((b * uniforms.heads + h) * uniforms.seq + i) * 2 + e % 2];
          }
          tileStats[e] = vs;
        }
        workgroupBarrier();
        if (valid) {
          for (var ii = 0; ii < ${sh.w}; ii = ii + 1) {
            let i = i0 + ii;
            if (i < uniforms.seq) {
              let dead = i < deadEnd || i >= deadStart;
              if (dead || (keyReal && j <= uniforms.past + i && j > uniforms.past + i - uniforms.window)) {
                var s = 0.0;
                if (!dead) {
                  var dot = 0.0;
                  for (var c = 0; c < D; c = c + 1) {
                    dot = dot + tileQ[ii * D + c] * kj[c];
                  }
                  s = dot * uniforms.scale;
                }
                let p = exp(s - tileStats[ii * 2]);
                var dp = 0.0;
                for (var c = 0; c < D; c = c + 1) {
                  dp = dp + tileDO[ii * D + c] * vj[c];
                }
                let ds = p * (dp - tileStats[ii * 2 + 1]);
                for (var c = 0; c < D; c = c + 1) {
                  dv[c] = dv[c] + p * tileDO[ii * D + c];
                  dk[c] = dk[c] + ds * tileQ[ii * D + c];
                }
              }
            }
          }
        }
        workgroupBarrier();
      }
    }
  }
  if (valid) {
    for (var c = 0; c < D; c = c + 1) {
      DK[kvRow + c] = dk[c] * uniforms.scale;
      DV[kvRow + c] = dv[c];
    }
  }
}
`;
