// GeGLU with gelu_pytorch_tanh (Gemma's MLP), elementwise over G (gate) and U (up), same
// shapes; uniform `size`. tanh is written as TF.js's webgpu Tanh writes it (WGSL's tanh is
// allowed to lose accuracy, and overflows in some drivers, for large |x|).
//
//   forward   y  = ½·g·(1 + t)·u,   t = tanh(c·(g + a·g³)),  c = √(2/π), a = 0.044715
//   backward  dg = dy · u · (½·(1 + t) + ½·g·(1 − t²)·c·(1 + 3a·g²))
//             du = dy · ½·g·(1 + t)

const gelu = /* wgsl */ `
const GELU_C = 0.7978845608028654;
const GELU_A = 0.044715;

fn tanhStable(a : f32) -> f32 {
  let e2x = exp(-2.0 * abs(a));
  return sign(a) * (1.0 - e2x) / (1.0 + e2x);
}

fn geluTanhOf(g : f32) -> f32 {
  return tanhStable(GELU_C * (g + GELU_A * g * g * g));
}`;

export const gegluForwardWgsl = /* wgsl */ `
${gelu}
fn main(index : i32) {
  if (index < uniforms.size) {
    let g = G[index];
    result[index] = 0.5 * g * (1.0 + geluTanhOf(g)) * U[index];
  }
}
`;

/** Both gradients in one pass (two outputs): DG and DU. */
export const gegluGradWgsl = /* wgsl */ `
${gelu}
fn main(index : i32) {
  if (index < uniforms.size) {
    let g = G[index];
    let u = U[index];
    let dy = DY[index];
    let t = geluTanhOf(g);
    let dGelu = 0.5 * (1.0 + t) + 0.5 * g * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_A * g * g);
    DG[index] = dy * u * dGelu;
    DU[index] = dy * (0.5 * g * (1.0 + t));
  }
}
`;
