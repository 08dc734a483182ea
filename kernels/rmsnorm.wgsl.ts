// RMSNorm over the last axis, one workgroup per row; WG lanes stride over the row and a tree
// reduction in workgroup memory sums it. Inputs: X [rows, cols], W [cols] (and DY [rows, cols]
// for the backward). Uniforms: rows, cols, eps.
//
//   forward   y = x · r · w,             r = 1 / sqrt(mean(x²) + eps)
//   backward  dx = r · g − x · r³ · mean(g · x),   g = dy · w        (no dw: w is frozen)
//
// The residual variant (two outputs) adds first and writes both the sum and its norm:
//   forward   SUM = X + DELTA,  Y = rmsnorm(SUM)
//   backward  dx = dSUM + rmsnorm'(SUM)·dY      (the gradient of X and of DELTA alike)

/** A sum over the row: the workgroup array it is reduced in, the lane's register, the term per column. */
interface RowSum {
  shared: string;
  reg: string;
  term: string;
}

/**
 * One workgroup per row: each lane sums its columns' terms (after `load`, which defines v),
 * the sums are tree-reduced in workgroup memory, then `finish` (of shared[0]) and `store` per column.
 */
const rowKernel = (wg: number, load: string, sums: RowSum[], finish: string, store: string) => /* wgsl */ `
${sums.map((r) => `var<workgroup> ${r.shared} : array<f32, ${wg}>;`).join('\n')}

fn main(index : i32) {
  let row = index / ${wg};
  let lane = i32(localIndex);
  let valid = row < uniforms.rows;
  let base = row * uniforms.cols;
  ${sums.map((r) => `var ${r.reg} = 0.0;`).join('\n  ')}
  if (valid) {
    for (var c = lane; c < uniforms.cols; c = c + ${wg}) {
      ${load}
      ${sums.map((r) => `${r.reg} = ${r.reg} + ${r.term};`).join('\n      ')}
    }
  }
  ${sums.map((r) => `${r.shared}[lane] = ${r.reg};`).join('\n  ')}
  workgroupBarrier();
  for (var stride = ${wg / 2}; stride > 0; stride = stride / 2) {
    if (lane < stride) {
${sums.map((r) => `      ${r.shared}[lane] = ${r.shared}[lane] + ${r.shared}[lane + stride];`).join('\n')}
    }
    workgroupBarrier();
  }
  ${finish}
  if (valid) {
    for (var c = lane; c < uniforms.cols; c = c + ${wg}) {
      ${store}
    }
  }
}
`;

const sumSq: RowSum = { shared: 'sumSq', reg: 's', term: 'v * v' };

/**
 * Forward. With `residual` it first forms the residual sum X + DELTA, writes it to SUM (the
 * stream the next layer adds to) and normalises that into Y, all in one pass.
 */
export const rmsNormForwardWgsl = (wg: number, residual = false) => {
  const input = residual ? 'X[base + c] + DELTA[base + c]' : 'X[base + c]';
  return rowKernel(
    wg,
    `let v = ${input};${residual ? ' SUM[base + c] = v;' : ''}`,
    [sumSq],
    'let r = inverseSqrt(sumSq[0] / f32(uniforms.cols) + uniforms.eps);',
    `${residual ? 'Y' : 'result'}[base + c] = (${input}) * r * W[c];`,
  );
};

/** With `residual`, the input DS (gradient reaching the sum directly) is added to dx. */
export const rmsNormBackwardWgsl = (wg: number, residual = false) =>
  rowKernel(
    wg,
    'let v = X[base + c];',
    [sumSq, { shared: 'sumGx', reg: 't', term: 'DY[base + c] * W[c] * v' }],
    `let n = f32(uniforms.cols);
  let r = inverseSqrt(sumSq[0] / n + uniforms.eps);
  let k = r * r * r * sumGx[0] / n;`,
    `result[base + c] = ${residual ? 'DS[base + c] + ' : ''}(r * DY[base + c] * W[c] - X[base + c] * k);`,
  );
