// The decode step's WGSL: one new token for each of ROWS ≤ 8 rows, so every linear is a
// vector-matrix product with M = ROWS. Each workgroup owns a block of output columns for all
// rows; the K axis is split over S lanes per column (vec4 loads of the frozen weight) and summed
// by a tree in workgroup memory. What a layer would do between its matmuls rides in their
// prologues and epilogues: the RMSNorm of the input (each workgroup recomputes the rows' norms,
// ROWS·hidden reads), the bias, the LoRA branch (u = x·Aᵀ recomputed per workgroup, then
// y += u·(s·B)ᵀ, u zeroed for rows whose adapter is off), q/k norms, RoPE, the KV-cache append,
// SwiGLU and the residual add.
//
// Shapes are compile-time constants of the session (one pipeline per kernel kind serves every
// layer); what changes per step is in the `step` uniform (kernels/decode-runner.ts):
// step.row[r] = (token id, position, adapter on, first real cache slot), step.len.x = cache slots
// in use including this step's token, step.len.y = whether any row has the adapter on.
//
// Layouts: H [ROWS, HID] residual stream; Q [ROWS, NH, D] (rotated); KV one buffer per layer,
// [2, ROWS, NKV, L, D] (keys then values, L = the session's capacity); CTX [ROWS, NH·D]; ACT
// [ROWS, INTER]; P the layer's small parameters packed at 4-float aligned offsets (norm weights,
// biases, LoRA A [R, in] and s·B [out, R], zero-padded to the largest rank of the module);
// ROPE [2, L, D] (cos then sin, from the host's float64 tables).

/** Compile-time shape of a session. */
export interface DecodeShape {
  rows: number;
  hidden: number;
  inter: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Cache slots (prompt + new tokens). */
  capacity: number;
  vocab: number;
  eps: number;
  scale: number;
}

/** Where a linear's LoRA lives in P: A [rank, in] at `a`, s·B [out, rank] at `b`. */
export interface PackedLora {
  rank: number;
  a: number;
  b: number;
}

/** A linear's extras in P: its bias offset and its LoRA, each optional. */
export interface PackedLinear {
  bias?: number;
  lora?: PackedLora;
}

/** Lanes of a vector-matrix workgroup: 256 for ≤ 4 rows, 128 for 8, so `red` is 4 KiB. */
export const decodeLanes = (rows: number) => (rows <= 4 ? 256 : 128);

const f = (x: number) => (Number.isInteger(x) ? `${x}.0` : `${x}`);

/** Module-scope declarations every vector-matrix kernel shares. */
const common = (sh: DecodeShape) => /* wgsl */ `
const ROWS = ${sh.rows};
const WG = ${decodeLanes(sh.rows)};
const EPS = ${f(sh.eps)};
var<workgroup> red : array<f32, ${decodeLanes(sh.rows) * sh.rows}>;
var<workgroup> rinv : array<f32, ${sh.rows}>;

fn p4(i : i32) -> vec4<f32> {
  return vec4<f32>(P[i], P[i + 1], P[i + 2], P[i + 3]);
}

fn adapterOn(r : i32) -> f32 {
  return f32(step.row[r].z);
}`;

/**
 * Sums acc[r] over each group of S consecutive lanes; group c's sums end in red[c·S·ROWS + r].
 * Begins with a barrier, so earlier readers of `red` are done.
 */
const laneReduce = (s: number) => /* wgsl */ `
    workgroupBarrier();
    for (var r = 0; r < ROWS; r = r + 1) {
      red[lane * ROWS + r] = acc[r];
    }
    workgroupBarrier();
    for (var stride = ${s / 2}; stride > 0; stride = stride / 2) {
      if (lane % ${s} < stride) {
        for (var r = 0; r < ROWS; r = r + 1) {
          red[lane * ROWS + r] = red[lane * ROWS + r] + red[(lane + stride) * ROWS + r];
        }
      }
      workgroupBarrier();
    }`;

/** The sum a `matvec` left for column c (of its block) and row r. */
const sumAt = (s: number, c: string, r: string) => `red[(${c}) * ${s * 1} * ROWS + (${r})]`;

/**
 * acc[r] = Σ_k4 dot(x(r, k4), w(col, k4)) for the block's column c = lane / S, reduced over the
 * S lanes of the column (result at sumAt). `valid` (of c) guards columns past the block's end.
 */
function matvec(o: { s: number; k4: number; valid: string; w: (k4: string) => string; x: (r: string, k4: string) => string }): string {
  return /* wgsl */ `
  {
    var acc : array<f32, ROWS>;
    let c = lane / ${o.s};
    if (${o.valid}) {
      for (var k4 = lane % ${o.s}; k4 < ${o.k4}; k4 = k4 + ${o.s}) {
        let wv = ${o.w('k4')};
        for (var r = 0; r < ROWS; r = r + 1) {
          acc[r] = acc[r] + dot(${o.x('r', 'k4')}, wv);
        }
      }
    }
    ${laneReduce(o.s)}
  }`;
}

/** rinv[r] = 1/√(mean(H[r]²) + eps), over all lanes. */
const rowNorms = (sh: DecodeShape) => /* wgsl */ `
  {
    var acc : array<f32, ROWS>;
    for (var k4 = lane; k4 < ${sh.hidden / 4}; k4 = k4 + WG) {
      for (var r = 0; r < ROWS; r = r + 1) {
        let h = H[r * ${sh.hidden / 4} + k4];
        acc[r] = acc[r] + dot(h, h);
      }
    }
    ${laneReduce(decodeLanes(sh.rows))}
  }
  if (lane < ROWS) {
    rinv[lane] = inverseSqrt(red[lane] / ${f(sh.hidden)} + EPS);
  }
  workgroupBarrier();`;

/** The RMSNorm'd input row r, 4 columns at k4, with the norm weight at P offset `w`. */
const normedX = (sh: DecodeShape, w: number) => (r: string, k4: string) => `H[${r} * ${sh.hidden / 4} + ${k4}] * (rinv[${r}] * p4(${w} + 4 * ${k4}))`;

/** Smallest power of two ≥ n. */
const pow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** Workgroup storage for the u of a LoRA linear `name` ([ROWS, rank]). */
const loraShared = (sh: DecodeShape, name: string, l?: PackedLinear) => (l?.lora ? `var<workgroup> u_${name} : array<f32, ${sh.rows * l.lora.rank}>;` : '');

/**
 * u_name[r, j] = adapterOn(r) · x(r)·A_j over `k4` vec4 columns, only when some row has the
 * adapter (step.len.y, uniform).
 */
function loraDown(sh: DecodeShape, name: string, l: PackedLinear | undefined, inF: number, x: (r: string, k4: string) => string): string {
  if (!l?.lora) return '';
  const { rank, a } = l.lora;
  const wg = decodeLanes(sh.rows);
  const s = wg / Math.min(wg, pow2(rank));
  const perPass = wg / s;
  const passes = Math.ceil(rank / perPass);
  let code = '';
  for (let pass = 0; pass < passes; pass++) {
    const j0 = pass * perPass;
    code += /* wgsl */ `
    ${matvec({ s, k4: inF / 4, valid: `c + ${j0} < ${rank}`, w: (k4) => `p4(${a} + (c + ${j0}) * ${inF} + 4 * ${k4})`, x })}
    for (var i = lane; i < ${Math.min(perPass, rank - j0)} * ROWS; i = i + WG) {
      let j = i / ROWS;
      let r = i % ROWS;
      u_${name}[r * ${rank} + j + ${j0}] = ${sumAt(s, 'j', 'r')} * adapterOn(r);
    }`;
  }
  return /* wgsl */ `
  if (step.len.y != 0) {${code}
  }`;
}

/** bias + LoRA up-projection of output column `col` for row `r` (an f32 expression). */
function extras(name: string, l: PackedLinear | undefined): string {
  const terms: string[] = [];
  if (l?.bias !== undefined) terms.push(`P[${l.bias} + col]`);
  if (l?.lora) terms.push(`loraUp_${name}(r, col)`);
  return terms.length ? ` + ${terms.join(' + ')}` : '';
}

/** fn loraUp_name(r, col) = Σ_j u[r, j]·(s·B)[col, j] (0 when no row has the adapter). */
function loraUpFn(name: string, l: PackedLinear | undefined): string {
  if (!l?.lora) return '';
  const { rank, b } = l.lora;
  return /* wgsl */ `
fn loraUp_${name}(r : i32, col : i32) -> f32 {
  if (step.len.y == 0) {
    return 0.0;
  }
  var s = 0.0;
  for (var j = 0; j < ${rank}; j = j + 1) {
    s = s + u_${name}[r * ${rank} + j] * P[${b} + col * ${rank} + j];
  }
  return s;
}`;
}

/** Embedding rows of this step's tokens into H: one workgroup per row. */
export const decodeEmbedWgsl = (sh: DecodeShape) => /* wgsl */ `
fn main(wg : vec3<u32>, lane : i32) {
  let r = i32(wg.x);
  let id = step.row[r].x;
  for (var k = lane; k < ${sh.hidden}; k = k + 64) {
    H[r * ${sh.hidden} + k] = E[id * ${sh.hidden} + k];
  }
}`;

export interface QkvPack {
  norm: number;
  q: PackedLinear;
  k: PackedLinear;
  v: PackedLinear;
  /** qwen3's per-head q/k RMSNorm weights ([D] each). */
  qNorm?: number;
  kNorm?: number;
}

/**
 * RMSNorm → q/k/v projections (+ bias, + LoRA) → q/k norm → RoPE → q into Q, k and v appended to
 * the cache at slot step.len.x − 1. One workgroup per head: NH of q, then NKV of k, then of v.
 */
export function decodeQkvWgsl(sh: DecodeShape, pk: QkvPack): string {
  const D = sh.headDim;
  const wg = decodeLanes(sh.rows);
  const s = wg / D;
  const x = normedX(sh, pk.norm);
  const parts = [
    { name: 'q', w: 'WQ', l: pk.q, norm: pk.qNorm, rope: true },
    { name: 'k', w: 'WK', l: pk.k, norm: pk.kNorm, rope: true },
    { name: 'v', w: 'WV', l: pk.v, norm: undefined, rope: false },
  ];
  const kvHalf = sh.rows * sh.kvHeads * sh.capacity * D;
  const branch = (p: (typeof parts)[number], i: number) => /* wgsl */ `
  ${i === 0 ? '' : 'else '}if (part == ${i}) {
    ${loraDown(sh, p.name, p.l, sh.hidden, x)}
    ${matvec({ s, k4: sh.hidden / 4, valid: 'true', w: (k4) => `${p.w}[(head * ${D} + c) * ${sh.hidden / 4} + ${k4}]`, x })}
    for (var i = lane; i < ${D} * ROWS; i = i + WG) {
      let c = i / ROWS;
      let r = i % ROWS;
      let col = head * ${D} + c;
      yS[r * ${D} + c] = ${sumAt(s, 'c', 'r')}${extras(p.name, p.l)};
    }
    workgroupBarrier();
    ${
      p.norm !== undefined
        ? `if (lane < ROWS) {
      var ss = 0.0;
      for (var c = 0; c < ${D}; c = c + 1) {
        ss = ss + yS[lane * ${D} + c] * yS[lane * ${D} + c];
      }
      hn[lane] = inverseSqrt(ss / ${f(D)} + EPS);
    }
    workgroupBarrier();`
        : ''
    }
    for (var i = lane; i < ${D} * ROWS; i = i + WG) {
      let r = i / ${D};
      let c = i % ${D};
      ${
        p.rope
          ? `let pos = step.row[r].y;
      var rot : f32;
      if (c < ${D / 2}) {
        rot = -y_${p.name}(r, c + ${D / 2});
      } else {
        rot = y_${p.name}(r, c - ${D / 2});
      }
      let y = y_${p.name}(r, c) * ROPE[pos * ${D} + c] + rot * ROPE[${sh.capacity * D} + pos * ${D} + c];`
          : `let y = y_${p.name}(r, c);`
      }
      ${
        p.name === 'q'
          ? `Q[(r * ${sh.heads} + head) * ${D} + c] = y;`
          : `KV[${p.name === 'v' ? `${kvHalf} + ` : ''}((r * ${sh.kvHeads} + head) * ${sh.capacity} + step.len.x - 1) * ${D} + c] = y;`
      }
    }
  }`;
  const yFn = (p: (typeof parts)[number]) => /* wgsl */ `
fn y_${p.name}(r : i32, c : i32) -> f32 {
  return yS[r * ${D} + c]${p.norm !== undefined ? ` * hn[r] * P[${p.norm} + c]` : ''};
}`;
  return /* wgsl */ `
${common(sh)}
var<workgroup> yS : array<f32, ${sh.rows * D}>;
var<workgroup> hn : array<f32, ${sh.rows}>;
${parts.map((p) => loraShared(sh, p.name, p.l)).join('\n')}
${parts.map((p) => loraUpFn(p.name, p.l) + yFn(p)).join('\n')}

fn main(wg : vec3<u32>, lane : i32) {
  let g = i32(wg.x);
  var part = 2;
  var head = g - ${sh.heads + sh.kvHeads};
  if (g < ${sh.heads}) {
    part = 0;
    head = g;
  } else if (g < ${sh.heads + sh.kvHeads}) {
    part = 1;
    head = g - ${sh.heads};
  }
  ${rowNorms(sh)}
  ${parts.map(branch).join('')}
}`;
}

/** Lanes of the attention workgroup, and keys per chunk. */
export const ATTN_LANES = 64;

/**
 * One query (row r, head h) over the cache slots first … len − 1 (GQA: KV head h / (NH / NKV)):
 * each chunk of 64 keys gets its scores (one lane per key), the chunk's max and Σ exp, and the
 * output's online-softmax update (one lane per output dimension). Writes CTX in o_proj's layout.
 */
export function decodeAttentionWgsl(sh: DecodeShape): string {
  const D = sh.headDim;
  const per = Math.ceil(D / ATTN_LANES);
  const kvHalf = sh.rows * sh.kvHeads * sh.capacity * D;
  return /* wgsl */ `
const D4 = ${D / 4};
var<workgroup> qS : array<vec4<f32>, D4>;
var<workgroup> sc : array<f32, ${ATTN_LANES}>;

fn main(wg : vec3<u32>, lane : i32) {
  let h = i32(wg.x);
  let r = i32(wg.y);
  let g = h / ${sh.heads / sh.kvHeads};
  let len = step.len.x;
  let first = step.row[r].w;
  let kBase = (r * ${sh.kvHeads} + g) * ${sh.capacity};
  for (var c4 = lane; c4 < D4; c4 = c4 + ${ATTN_LANES}) {
    qS[c4] = Q4[(r * ${sh.heads} + h) * D4 + c4];
  }
  var o : array<f32, ${per}>;
  var m = -3.0e38;
  var l = 0.0;
  for (var k0 = first; k0 < len; k0 = k0 + ${ATTN_LANES}) {
    workgroupBarrier();
    let j = k0 + lane;
    var s = -3.0e38;
    if (j < len) {
      var d = 0.0;
      for (var c4 = 0; c4 < D4; c4 = c4 + 1) {
        d = d + dot(qS[c4], KV4[(kBase + j) * D4 + c4]);
      }
      s = d * ${f(sh.scale)};
    }
    sc[lane] = s;
    workgroupBarrier();
    let n = min(${ATTN_LANES}, len - k0);
    var cm = m;
    for (var jj = 0; jj < n; jj = jj + 1) {
      cm = max(cm, sc[jj]);
    }
    let corr = exp(m - cm);
    l = l * corr;
    for (var i = 0; i < ${per}; i = i + 1) {
      o[i] = o[i] * corr;
    }
    for (var jj = 0; jj < n; jj = jj + 1) {
      let p = exp(sc[jj] - cm);
      l = l + p;
      let vRow = ${kvHalf} + (kBase + k0 + jj) * ${D};
      for (var i = 0; i < ${per}; i = i + 1) {
        let c = lane + i * ${ATTN_LANES};
        if (c < ${D}) {
          o[i] = o[i] + p * KV[vRow + c];
        }
      }
    }
    m = cm;
  }
  for (var i = 0; i < ${per}; i = i + 1) {
    let c = lane + i * ${ATTN_LANES};
    if (c < ${D}) {
      CTX[(r * ${sh.heads} + h) * ${D} + c] = o[i] / l;
    }
  }
}`;
}

/** Output columns per workgroup of the o_proj/down, gate/up and lm_head kernels. */
export const COLS_RESIDUAL = 32;
export const COLS_MLP = 32;
export const COLS_HEAD = 64;

/**
 * H[r, col] += X[r]·W[col] (+ bias, + LoRA): o_proj (X = CTX) and down_proj (X = ACT), `inF`
 * wide. H is written in place: each element is read and written by the same lane.
 */
export function decodeResidualWgsl(sh: DecodeShape, inF: number, l: PackedLinear): string {
  const wg = decodeLanes(sh.rows);
  const s = wg / COLS_RESIDUAL;
  const x = (r: string, k4: string) => `X[${r} * ${inF / 4} + ${k4}]`;
  return /* wgsl */ `
${common(sh)}
${loraShared(sh, 'o', l)}
${loraUpFn('o', l)}

fn main(wg : vec3<u32>, lane : i32) {
  let col0 = i32(wg.x) * ${COLS_RESIDUAL};
  ${loraDown(sh, 'o', l, inF, x)}
  ${matvec({ s, k4: inF / 4, valid: `col0 + c < ${sh.hidden}`, w: (k4) => `W[(col0 + c) * ${inF / 4} + ${k4}]`, x })}
  for (var i = lane; i < ${COLS_RESIDUAL} * ROWS; i = i + WG) {
    let c = i / ROWS;
    let r = i % ROWS;
    let col = col0 + c;
    if (col < ${sh.hidden}) {
      H[r * ${sh.hidden} + col] = H[r * ${sh.hidden} + col] + ${sumAt(s, 'c', 'r')}${extras('o', l)};
    }
  }
}`;
}

export interface MlpPack {
  norm: number;
  gate: PackedLinear;
  up: PackedLinear;
}

/** ACT[r, col] = silu(g)·u with g, u the gate and up projections of RMSNorm(H) (+ bias, + LoRA). */
export function decodeMlpWgsl(sh: DecodeShape, pk: MlpPack): string {
  const wg = decodeLanes(sh.rows);
  const s = wg / COLS_MLP;
  const x = normedX(sh, pk.norm);
  const k4 = sh.hidden / 4;
  const w = (name: string) => (kk: string) => `${name}[(col0 + c) * ${k4} + ${kk}]`;
  const valid = `col0 + c < ${sh.inter}`;
  return /* wgsl */ `
${common(sh)}
var<workgroup> gS : array<f32, ${COLS_MLP * sh.rows}>;
${loraShared(sh, 'g', pk.gate)}
${loraShared(sh, 'u', pk.up)}
${loraUpFn('g', pk.gate)}
${loraUpFn('u', pk.up)}

fn main(wg : vec3<u32>, lane : i32) {
  let col0 = i32(wg.x) * ${COLS_MLP};
  ${rowNorms(sh)}
  ${loraDown(sh, 'g', pk.gate, sh.hidden, x)}
  ${loraDown(sh, 'u', pk.up, sh.hidden, x)}
  ${matvec({ s, k4, valid, w: w('WG_'), x })}
  for (var i = lane; i < ${COLS_MLP} * ROWS; i = i + WG) {
    let c = i / ROWS;
    let r = i % ROWS;
    let col = col0 + c;
    if (col < ${sh.inter}) {
      gS[i] = ${sumAt(s, 'c', 'r')}${extras('g', pk.gate)};
    }
  }
  ${matvec({ s, k4, valid, w: w('WU'), x })}
  for (var i = lane; i < ${COLS_MLP} * ROWS; i = i + WG) {
    let c = i / ROWS;
    let r = i % ROWS;
    let col = col0 + c;
    if (col < ${sh.inter}) {
      let g = gS[i];
      let u = ${sumAt(s, 'c', 'r')}${extras('u', pk.up)};
      ACT[r * ${sh.inter} + col] = g / (1.0 + exp(-g)) * u;
    }
  }
}`;
}

/** LOGITS[r, v] = RMSNorm(H[r])·W[v] with the final norm weight at P offset 0 (P = the weight). */
export function decodeHeadWgsl(sh: DecodeShape): string {
  const wg = decodeLanes(sh.rows);
  const s = wg / COLS_HEAD;
  const k4 = sh.hidden / 4;
  return /* wgsl */ `
${common(sh)}

fn main(wg : vec3<u32>, lane : i32) {
  let col0 = i32(wg.x) * ${COLS_HEAD};
  ${rowNorms(sh)}
  ${matvec({ s, k4, valid: `col0 + c < ${sh.vocab}`, w: (kk) => `W[(col0 + c) * ${k4} + ${kk}]`, x: normedX(sh, 0) })}
  for (var i = lane; i < ${COLS_HEAD} * ROWS; i = i + WG) {
    let c = i / ROWS;
    let r = i % ROWS;
    let col = col0 + c;
    if (col < ${sh.vocab}) {
      LOGITS[r * ${sh.vocab} + col] = ${sumAt(s, 'c', 'r')};
    }
  }
}`;
}

/** The prefill's keys and values K, V [ROWS, NKV, T, D] into cache slots 0 … T − 1 (grid-stride). */
export const decodeFillWgsl = (sh: DecodeShape, seq: number) => /* wgsl */ `
fn main(wg : vec3<u32>, lane : i32) {
  let n = ${sh.rows * sh.kvHeads * seq * sh.headDim};
  for (var i = i32(wg.x) * 64 + lane; i < n; i = i + ${64 * 1024}) {
    let c = i % ${sh.headDim};
    let t = (i / ${sh.headDim}) % ${seq};
    let rh = i / (${sh.headDim * seq});
    let o = (rh * ${sh.capacity} + t) * ${sh.headDim} + c;
    KV[o] = K[i];
    KV[${sh.rows * sh.kvHeads * sh.capacity * sh.headDim} + o] = V[i];
  }
}`;
