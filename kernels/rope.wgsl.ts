// Rotary embedding of q and k fused with the move to attention's heads-first layout, and v's
// transpose riding along in the same dispatch (three outputs). Inputs Q [B, T, H, d],
// K and V [B, T, Hk, d] (the projections' layout), COS and SIN [B, T, d]; outputs QR [B, H, T, d],
// KR and VT [B, Hk, T, d]. One flat index runs over the three outputs in turn. Uniforms: sizeQ,
// sizeK, seq, heads, kvHeads, dim. rotate_half(x) = [−x₂, x₁] over the halves of d.
//
//   forward   qr = q · cos + rotate_half(q) · sin,  kr likewise,  vt = v
//   backward  dq = dqr · cos − rotate_half(dqr · sin)   (rotate_halfᵀ = −rotate_half), dk likewise,
//             dv = dvt — all three back in [B, T, ·, d]

/** Forward: output element `o` (heads-first) of tensor SRC with `nh` heads into OUT. */
const forwardOne = (src: string, out: string, nh: string, rotate: boolean) => /* wgsl */ `
    let i = o % d;
    var r = o / d;
    let t = r % uniforms.seq;
    r = r / uniforms.seq;
    let h = r % ${nh};
    let b = r / ${nh};
    let base = ((b * uniforms.seq + t) * ${nh} + h) * d;
    ${
      rotate
        ? `let cs = (b * uniforms.seq + t) * d + i;
    var rot : f32;
    if (i < half) {
      rot = -${src}[base + i + half];
    } else {
      rot = ${src}[base + i - half];
    }
    ${out}[o] = ${src}[base + i] * COS[cs] + rot * SIN[cs];`
        : `${out}[o] = ${src}[base + i];`
    }`;

/** Backward: input-gradient element `o` (token-first) of tensor D (heads-first) into OUT. */
const backwardOne = (d: string, out: string, nh: string, rotate: boolean) => /* wgsl */ `
    let j = o % d;
    var r = o / d;
    let h = r % ${nh};
    r = r / ${nh};
    let t = r % uniforms.seq;
    let b = r / uniforms.seq;
    let base = ((b * ${nh} + h) * uniforms.seq + t) * d;
    ${
      rotate
        ? `let cs = (b * uniforms.seq + t) * d;
    var rot : f32;
    if (j < half) {
      rot = ${d}[base + j + half] * SIN[cs + j + half];
    } else {
      rot = -(${d}[base + j - half] * SIN[cs + j - half]);
    }
    ${out}[o] = ${d}[base + j] * COS[cs + j] + rot;`
        : `${out}[o] = ${d}[base + j];`
    }`;

const dispatchOver = (one: (src: string, out: string, nh: string, rotate: boolean) => string, names: [string, string][]) => /* wgsl */ `
fn main(index : i32) {
  let d = uniforms.dim;
  let half = d / 2;
  if (index < uniforms.sizeQ) {
    let o = index;
    ${one(names[0][0], names[0][1], 'uniforms.heads', true)}
  } else if (index < uniforms.sizeQ + uniforms.sizeK) {
    let o = index - uniforms.sizeQ;
    ${one(names[1][0], names[1][1], 'uniforms.kvHeads', true)}
  } else if (index < uniforms.sizeQ + 2 * uniforms.sizeK) {
    let o = index - uniforms.sizeQ - uniforms.sizeK;
    ${one(names[2][0], names[2][1], 'uniforms.kvHeads', false)}
  }
}
`;

export const ropeQkvForwardWgsl = dispatchOver(forwardOne, [
  ['Q', 'QR'],
  ['K', 'KR'],
  ['V', 'VT'],
]);

export const ropeQkvBackwardWgsl = dispatchOver(backwardOne, [
  ['DQR', 'DQ'],
  ['DKR', 'DK'],
  ['DVT', 'DV'],
]);
