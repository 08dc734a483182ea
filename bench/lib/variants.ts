// A variant is one way of running the same model on the same backend; every variant is a row of
// its own, so the table compares them side by side: stock TF.js ops, and the fused WGSL kernels
// of kernels/ (issue 5), switched by kernels/mode.ts's setKernelMode. `--variants stock,fused`
// gives both rows per model and backend, and the summary prints fused ÷ stock ratios of
// tokens/s, dispatches and peak bytes. The fused kernels exist only on webgpu (elsewhere every
// op falls back to stock), so a fused row on cpu or wasm is skipped rather than measured twice.
// Another variant (say, a different matmul tiling) is one more entry here.
import type { BackendName } from '../../src/engine/backend';
import { setKernelMode } from '../../kernels/mode';

export const VARIANT_IDS = ['stock', 'fused'] as const;
export type VariantId = (typeof VARIANT_IDS)[number];

export interface Variant {
  id: VariantId;
  description: string;
  /** Whether the variant can run at all in this build. */
  available: boolean;
  /** Backends it applies to (others get a "skipped" row). */
  backends: readonly BackendName[];
  /** Called after the backend is initialised and before each of this variant's rows. */
  enable(backend: BackendName): Promise<void>;
}

export const VARIANTS: Record<VariantId, Variant> = {
  stock: {
    id: 'stock',
    description: 'stock TF.js ops',
    available: true,
    backends: ['webgpu', 'wasm', 'cpu'],
    async enable() {
      setKernelMode('stock');
    },
  },
  fused: {
    id: 'fused',
    description: 'fused WGSL kernels (kernels/)',
    available: true,
    backends: ['webgpu'],
    async enable() {
      setKernelMode('fused');
    },
  },
};

export function variant(id: string): Variant {
  const v = (VARIANTS as Record<string, Variant | undefined>)[id];
  if (!v) throw new Error(`unknown variant "${id}" (choose from ${VARIANT_IDS.join(', ')})`);
  return v;
}
