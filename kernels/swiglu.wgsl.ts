// SwiGLU, elementwise over G (gate) and U (up), same shapes; uniform `size`. The sigmoid is
// written as TF.js's webgpu Sigmoid writes it, so the forward matches bit for bit in spirit.
//
//   forward   y  = g · σ(g) · u
//   backward  dg = dy · u · σ(g) · (1 + g · (1 − σ(g)))
//             du = dy · g · σ(g)

const sigmoid = /* wgsl */ `
fn sigmoid(a : f32) -> f32 {
  return 1.0 / (1.0 + exp(-1.0 * a));
}`;

export const swigluForwardWgsl = /* wgsl */ `
${sigmoid}
fn main(index : i32) {
  if (index < uniforms.size) {
    let g = G[index];
    result[index] = g * sigmoid(g) * U[index];
  }
}
`;

/** Both gradients in one pass (two outputs): DG and DU. */
export const swigluGradWgsl = /* wgsl */ `
${sigmoid}
fn main(index : i32) {
  if (index < uniforms.size) {
    let g = G[index];
    let u = U[index];
    let dy = DY[index];
    let s = sigmoid(g);
    DG[index] = dy * u * (s * (1.0 + g * (1.0 - s)));
    DU[index] = dy * (g * s);
  }
}
`;
