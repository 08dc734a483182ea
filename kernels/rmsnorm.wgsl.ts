// RMSNorm over the last axis, one workgroup per row; WG lanes stride over the row and a tree
// reduction in workgroup memory sums it. Inputs: X [rows, cols], W [cols] (and DY [rows, cols]
// for the backward). Uniforms: rows, cols, eps.
//
//   forward   y = x · r · w,             r = 1 / sqrt(mean(x²) + eps)
//   backward  dx = r · g − x · r³ · mean(g · x),   g = dy · w        (no dw: w is frozen)
//
// The residual variant (multi-output runner) adds first and writes both the sum and its norm:
//   forward   SUM = X + DELTA,  Y = rmsnorm(SUM)
//   backward  dx = dSUM + rmsnorm'(SUM)·dY      (the gradient of X and of DELTA alike)

const reduce = (wg: number, arrays: string[]) => /* wgsl */ `
  workgroupBarrier();
  for (var stride = ${wg / 2}; stride > 0; stride = stride / 2) {
    if (lane < stride) {
${arrays.map((a) => `      ${a}[lane] = ${a}[lane] + ${a}[lane + stride];`).join('\n')}
    }
    workgroupBarrier();
  }`;

/**
 * Forward. With `residual` it first forms the residual sum X + DELTA, writes it to SUM (the
 * stream the next layer adds to) and normalises that into Y, all in one pass.
 */
export const rmsNormForwardWgsl = (wg: number, residual = false) => {
  const input = residual ? 'X[base + c] + DELTA[base + c]' : 'X[base + c]';
  const out = residual ? 'Y' : 'result';
  return /* wgsl */ `
var<workgroup> sumSq : array<f32, ${wg}>;

fn main(index : i32) {
  let row = index / ${wg};
  let lane = i32(localIndex);
  let valid = row < uniforms.rows;
  let base = row * uniforms.cols;
  var s = 0.0;
  if (valid) {
    for (var c = lane; c < uniforms.cols; c = c + ${wg}) {
      let v = ${input};${residual ? '\n      SUM[base + c] = v;' : ''}
      s = s + v * v;
    }
  }
  sumSq[lane] = s;
  ${reduce(wg, ['sumSq'])}
  let r = inverseSqrt(sumSq[0] / f32(uniforms.cols) + uniforms.eps);
  if (valid) {
    for (var c = lane; c < uniforms.cols; c = c + ${wg}) {
      ${out}[base + c] = (${input}) * r * W[c];
    }
  }
}
`;
};

/** With \`residual\`, the input DS (gradient reaching the sum directly) is added to dx. */
export const rmsNormBackwardWgsl = (wg: number, residual = false) => /* wgsl */ `
var<workgroup> sumSq : array<f32, ${wg}>;
var<workgroup> sumGx : array<f32, ${wg}>;

fn main(index : i32) {
  let row = index / ${wg};
  let lane = i32(localIndex);
  let valid = row < uniforms.rows;
  let base = row * uniforms.cols;
  var s = 0.0;
  var t = 0.0;
  if (valid) {
    for (var c = lane; c < uniforms.cols; c = c + ${wg}) {
      let v = X[base + c];
      s = s + v * v;
      t = t + DY[base + c] * W[c] * v;
    }
  }
  sumSq[lane] = s;
  sumGx[lane] = t;
  ${reduce(wg, ['sumSq', 'sumGx'])}
  let n = f32(uniforms.cols);
  let r = inverseSqrt(sumSq[0] / n + uniforms.eps);
  let k = r * r * r * sumGx[0] / n;
  if (valid) {
    for (var c = lane; c < uniforms.cols; c = c + ${wg}) {
      result[base + c] = ${residual ? 'DS[base + c] + ' : ''}(r * DY[base + c] * W[c] - X[base + c] * k);
    }
  }
}
`;
