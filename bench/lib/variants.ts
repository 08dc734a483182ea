// A variant is one way of running the same model on the same backend; every variant is a row of
// its own, so the table compares them side by side. Today there is one: stock TF.js ops.
//
// For the fused WGSL kernels (issue 5, second part): set `available: true` on `fused` and make
// `enable` register the kernels (and `stock.enable` switch them back off, so stock really runs
// stock ops even after a fused row). Nothing else in the benchmark needs to change:
// `--variants stock,fused` then gives both rows, and the summary prints fused ÷ stock ratios of
// tokens/s, dispatches and peak bytes.
import type { BackendName } from '../../src/engine/backend';

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
    description: 'stock TF.js kernels',
    available: true,
    backends: ['webgpu', 'wasm', 'cpu'],
    async enable() {
      // Nothing is registered yet. With fused kernels: restore the stock registrations here.
    },
  },
  fused: {
    id: 'fused',
    description: 'fused WGSL kernels (kernels/)',
    available: false,
    backends: ['webgpu'],
    async enable() {
      throw new Error('the fused WGSL kernels are not implemented yet (issue 5): see bench/lib/variants.ts');
    },
  },
};

export function variant(id: string): Variant {
  const v = (VARIANTS as Record<string, Variant | undefined>)[id];
  if (!v) throw new Error(`unknown variant "${id}" (choose from ${VARIANT_IDS.join(', ')})`);
  return v;
}
