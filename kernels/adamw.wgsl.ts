// The optimizer step of the LoRA variables in two kinds of dispatch (stock: ~12 element-wise
// kernels per variable for AdamW, plus a square, a sum and an add per gradient for the clipping
// norm, plus a multiply per gradient to clip).
//
// `sumSquaresWgsl`: one workgroup folds Σ g² over up to `count` gradients (and the running
// total ACC from an earlier dispatch) into result[0]. One workgroup is enough: the LoRA
// gradients are small (0.1–9 M numbers) and this runs once per step.
// `adamwWgsl`: per element, the clipped gradient and PyTorch's AdamW (decoupled decay first,
// bias corrections folded into the step size and the denominator), writing p, m and v at once.
// Sizes arrive as uniforms (n0, n1, …, size): a pooled buffer may be longer than its tensor.

export function sumSquaresWgsl(count: number, accumulate: boolean, wg: number): string {
  const loops = Array.from(
    { length: count },
    (_, k) => `for (var i = lane; i < uniforms.n${k}; i = i + ${wg}) { let g = G${k}[i]; s = s + g * g; }`,
  ).join('\n  ');
  return /* wgsl */ `
var<workgroup> red : array<f32, ${wg}>;

// A rank-1 output gets the backend's flat entry point; one workgroup ignores the index.
fn main(index : i32) {
  let lane = i32(localId.x);
  var s = 0.0;
  ${loops}
  red[lane] = s;
  workgroupBarrier();
  for (var stride = ${wg / 2}; stride > 0; stride = stride / 2) {
    if (lane < stride) { red[lane] = red[lane] + red[lane + stride]; }
    workgroupBarrier();
  }
  if (lane == 0) { result[0] = ${accumulate ? 'ACC[0] + ' : ''}red[0]; }
}
`;
}

/** Outputs P, M, V from P0, M0, V0, G and NORMSQ [1]. */
export const adamwWgsl = /* wgsl */ `
fn main(index : i32) {
  if (index >= uniforms.size) { return; }
  // torch.nn.utils.clip_grad_norm_: scale by maxNorm / (norm + 1e-6) when that is below 1.
  var coef = 1.0;
  if (uniforms.maxNorm > 0.0) { coef = min(uniforms.maxNorm / (sqrt(NORMSQ[0]) + 1e-6), 1.0); }
  let g = G[index] * coef;
  let m = uniforms.beta1 * M0[index] + (1.0 - uniforms.beta1) * g;
  let v = uniforms.beta2 * V0[index] + (1.0 - uniforms.beta2) * (g * g);
  let denom = sqrt(v) / uniforms.sqrtBc2 + uniforms.eps;
  P[index] = P0[index] * uniforms.decay - (m / denom) * uniforms.stepSize;
  M[index] = m;
  V[index] = v;
}
`;
