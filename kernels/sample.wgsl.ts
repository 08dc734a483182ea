// The next token of each row, chosen on the device exactly as src/engine/generate/sampling.ts
// chooses it on the host, without sorting the vocabulary. One workgroup per row, one dispatch.
//
// The host sorts the penalised logits (descending, ties by ascending index: a stable sort), keeps
// the first top_k, then the smallest prefix whose probability mass reaches top_p, and walks the
// CDF of what is left with its uniform u. Every one of those is "the first element e in sorted
// order whose prefix (through e) has F ≥ target", for F a count (top-k) or a mass (top-p, the
// draw). Here an element's place in the order is its key (ordKey(value), index), and that first
// element is found by search instead of a sort: 32 passes of binary lifting on the value key,
// each a strided sum over the row and a workgroup reduction, then — only where several tokens tie
// at the found value — a binary search on the index. The prefixes are nested (top-k ⊇ top-p ⊇
// the draw), so each stage searches inside the previous stage's cut.
//
// Inputs: LOGITS [rows, V]; SEEN [rows, H] (the distinct ids each row has seen, −1 padded, for
// the repetition penalty); U [rows] (one uniform per row, from the host's seeded stream).
// Outputs: result [rows] (the token ids, as f32: exact below 2²⁴), PEN [rows, V] (the penalised
// logits, scratch). Uniforms: vocab, seen, temperature (≤ 0: greedy), topK (0: off), topP
// (≥ 1: off), penalty.
//
// Where the host's float64 and this float32 differ (sums, exp, a division by the penalty) a
// draw can differ only when u lands within float32 rounding of a CDF boundary.

export const sampleWgsl = (wg: number) => /* wgsl */ `
const WG : u32 = ${wg}u;

struct Cut { k : u32, i : i32 };

var<workgroup> redF : array<f32, ${wg}>;
var<workgroup> redK : array<u32, ${wg}>;
var<workgroup> redI : array<i32, ${wg}>;
var<workgroup> outF : f32;
var<workgroup> outK : u32;
var<workgroup> outI : i32;
var<workgroup> rowW : i32;

var<private> base : i32;
/** The kept set so far: every element up to this cut in sorted order. */
var<private> kept : Cut;
var<private> maxV : f32;

/** Order-preserving u32 of a float (larger value, larger key); −0 and +0 are one value, as for the host. */
fn ordKey(v0 : f32) -> u32 {
  let v = select(v0, 0.0, v0 == 0.0);
  let b = bitcast<u32>(v);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

/** Whether element (k, i) comes no later than cut c in the sorted order. */
fn upTo(k : u32, i : i32, c : Cut) -> bool {
  return k > c.k || (k == c.k && i <= c.i);
}

fn weightOf(v : f32, mass : bool) -> f32 {
  if (mass) {
    return exp((v - maxV) / uniforms.temperature);
  }
  return 1.0;
}

fn reduceSum(x : f32) -> f32 {
  redF[localIndex] = x;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (localIndex < stride) {
      redF[localIndex] = redF[localIndex] + redF[localIndex + stride];
    }
    workgroupBarrier();
  }
  if (localIndex == 0u) {
    outF = redF[0];
  }
  return workgroupUniformLoad(&outF);
}

/** The first (best = true) or last element of the kept set among the lanes' candidates. */
fn reduceEnd(k0 : u32, i0 : i32, best : bool) -> Cut {
  redK[localIndex] = k0;
  redI[localIndex] = i0;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (localIndex < stride) {
      let k = redK[localIndex + stride];
      let i = redI[localIndex + stride];
      let mk = redK[localIndex];
      let mi = redI[localIndex];
      var take : bool;
      if (best) {
        take = i >= 0 && (mi < 0 || k > mk || (k == mk && i < mi));
      } else {
        take = i >= 0 && (mi < 0 || k < mk || (k == mk && i > mi));
      }
      if (take) {
        redK[localIndex] = k;
        redI[localIndex] = i;
      }
    }
    workgroupBarrier();
  }
  if (localIndex == 0u) {
    outK = redK[0];
    outI = redI[0];
  }
  return Cut(workgroupUniformLoad(&outK), workgroupUniformLoad(&outI));
}

/** The first (best) or last element of the kept set. */
fn end(best : bool) -> Cut {
  var k = 0u;
  var idx = -1;
  for (var i = i32(localIndex); i < uniforms.vocab; i = i + i32(WG)) {
    let ki = ordKey(PEN[base + i]);
    if (!upTo(ki, i, kept)) {
      continue;
    }
    let better = select(ki < k || (ki == k && i > idx), ki > k || (ki == k && i < idx), best);
    if (idx < 0 || better) {
      k = ki;
      idx = i;
    }
  }
  return reduceEnd(k, idx, best);
}

/** F (count or mass) of the kept elements up to cut c; Kahan-summed per lane. */
fn prefixSum(c : Cut, mass : bool) -> f32 {
  var s = 0.0;
  var comp = 0.0;
  for (var i = i32(localIndex); i < uniforms.vocab; i = i + i32(WG)) {
    let v = PEN[base + i];
    let k = ordKey(v);
    if (upTo(k, i, kept) && upTo(k, i, c)) {
      let y = weightOf(v, mass) - comp;
      let t = s + y;
      comp = (t - s) - y;
      s = t;
    }
  }
  return reduceSum(s);
}

/** The kept elements with key k: how many, and the smallest index among them. */
fn ties(k : u32) -> vec2<i32> {
  var n = 0.0;
  var first = -1;
  for (var i = i32(localIndex); i < uniforms.vocab; i = i + i32(WG)) {
    if (ordKey(PEN[base + i]) == k && upTo(k, i, kept)) {
      n = n + 1.0;
      if (first < 0) {
        first = i;
      }
    }
  }
  let count = reduceSum(n);
  // The smallest index is the "best" of elements sharing one key.
  let at = reduceEnd(k, first, true);
  return vec2<i32>(i32(count), at.i);
}

/**
 * The first kept element e in sorted order with F(prefix through e) ≥ target; the first element
 * when target ≤ 0, the last kept one when no prefix reaches it (as the host's loops end).
 */
fn search(goal : f32, mass : bool, top : Cut) -> Cut {
  if (goal <= 0.0) {
    return top;
  }
  if (prefixSum(Cut(0u, uniforms.vocab), mass) < goal) {
    return end(false);
  }
  // The largest key t with F(keys ≥ t) ≥ target: the found element's value.
  var t = 0u;
  for (var bit = 31; bit >= 0; bit = bit - 1) {
    let cand = t | (1u << u32(bit));
    if (prefixSum(Cut(cand, uniforms.vocab), mass) >= goal) {
      t = cand;
    }
  }
  let tie = ties(t);
  if (tie.x <= 1) {
    return Cut(t, tie.y);
  }
  // Several tokens share that value: the smallest index c with F(through (t, c)) ≥ target.
  var lo = -1;
  var hi = uniforms.vocab - 1;
  loop {
    if (hi - lo <= 1) {
      break;
    }
    let mid = (lo + hi) / 2;
    if (prefixSum(Cut(t, mid), mass) >= goal) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return Cut(t, hi);
}

fn main() {
  // Through workgroup memory: the builtins reach main via private variables, which the
  // uniformity analysis does not trust, and the searches' barriers depend on the row.
  if (localIndex == 0u) {
    rowW = i32(workgroupId.x);
  }
  let row = workgroupUniformLoad(&rowW);
  base = row * uniforms.vocab;
  for (var i = i32(localIndex); i < uniforms.vocab; i = i + i32(WG)) {
    PEN[base + i] = LOGITS[base + i];
  }
  storageBarrier();
  if (uniforms.penalty != 1.0) {
    for (var j = i32(localIndex); j < uniforms.seen; j = j + i32(WG)) {
      let id = SEEN[row * uniforms.seen + j];
      if (id >= 0 && id < uniforms.vocab) {
        let v = PEN[base + id];
        PEN[base + id] = select(v * uniforms.penalty, v / uniforms.penalty, v > 0.0);
      }
    }
  }
  storageBarrier();

  kept = Cut(0u, uniforms.vocab);
  let top = end(true);
  if (!(uniforms.temperature > 0.0)) {
    if (localIndex == 0u) {
      result[row] = f32(top.i);
    }
    return;
  }
  maxV = PEN[base + top.i];
  if (uniforms.topK > 0 && uniforms.topK < uniforms.vocab) {
    kept = search(f32(uniforms.topK), false, top);
  }
  var total = prefixSum(Cut(0u, uniforms.vocab), true);
  if (uniforms.topP < 1.0) {
    kept = search(uniforms.topP * total, true, top);
    total = prefixSum(Cut(0u, uniforms.vocab), true);
  }
  let drawn = search(U[row] * total, true, top);
  if (localIndex == 0u) {
    result[row] = f32(drawn.i);
  }
}
`;
