// Which part of a training step a GPU pipeline belongs to, by its label: the Program name of a
// fused kernel (kernels/dispatch.ts labels every pipeline with it) or the program class name
// tfjs-backend-webgpu gives its own. The benchmark's per-family GPU timestamps group by this.
//
// The LoRA linear's matmuls tell their role by shape of name: a two-segment pass (x·Wᵀ + s·u·Bᵀ,
// dy·W + du·A) is the frozen product with the low-rank term riding along; a one-segment `mm_`
// pass is a LoRA-branch product (u = x·Aᵀ, du = s·dy·B, dxd = du·A) — except dx = dy·W alone,
// which only LoRA dropout produces, and which is then counted with the LoRA branch.
export const KERNEL_FAMILIES = ['frozen matmul', 'LoRA branch', 'attention', 'norms/RoPE/activations', 'cross-entropy', 'optimizer', 'TF.js ops'] as const;
export type KernelFamily = (typeof KERNEL_FAMILIES)[number];

const RULES: [RegExp, KernelFamily][] = [
  [/^mm_down_|^mm2_/, 'LoRA branch'],
  [/^mm_[nt]{2}(v[pq]*)?_[nt]{2}/, 'frozen matmul'],
  [/^mmh_|^mmsg_/, 'frozen matmul'],
  [/^mm_/, 'LoRA branch'],
  [/^attn_/, 'attention'],
  [/^(add_)?rmsnorm|^rope_|^swiglu_|^geglu_/, 'norms/RoPE/activations'],
  [/^ce_/, 'cross-entropy'],
  [/^adamw|^sum_squares_/, 'optimizer'],
];

/** The family of a pipeline label; anything not a fused kernel of the step is a stock TF.js op. */
export function kernelFamily(label: string): KernelFamily {
  for (const [re, family] of RULES) if (re.test(label)) return family;
  return 'TF.js ops';
}
