// The frozen base's precision as a dimension of the benchmark (`--precision fp32,f16-base`):
// every model × backend × variant row is run once per precision, and the row says which ran and,
// for f16-base, which half kernel multiplied (SIMT f16 or the subgroup-matrix one).
import { PRECISIONS, setPrecision, type Precision } from '../../kernels/precision';
import { selectHalfMatmul, type FrozenMatmulPath } from '../../kernels/matmul-f16';
import { deviceFeatures } from '../../src/engine/webgpu-device';
import type { BackendName } from '../../src/engine/backend';

export function parsePrecisions(list: readonly string[]): Precision[] {
  for (const p of list) if (!(PRECISIONS as readonly string[]).includes(p)) throw new Error(`unknown precision "${p}" (choose from ${PRECISIONS.join(', ')})`);
  return list as Precision[];
}

/**
 * Switches the precision models load in; f16-base only on webgpu with shader-f16 and the fused
 * kernels (else the reason to skip the row). Returns the frozen-matmul path that will run.
 */
export async function usePrecision(p: Precision, backend: BackendName, variant: string): Promise<{ skip: string } | { frozenMatmul: FrozenMatmulPath; note?: string }> {
  if (p === 'fp32') {
    setPrecision('fp32');
    return { frozenMatmul: 'fp32' };
  }
  const features = backend === 'webgpu' ? deviceFeatures() : undefined;
  if (backend !== 'webgpu' || variant !== 'fused') return { skip: 'f16-base runs on the fused WebGPU kernels only' };
  if (!features?.features.includes('shader-f16')) return { skip: 'f16-base needs shader-f16, which this adapter does not offer' };
  setPrecision('f16-base');
  const picked = await selectHalfMatmul(features.subgroupMatrixConfigs, features.subgroupMaxSize);
  return { frozenMatmul: picked.path, ...(picked.why ? { note: picked.why } : {}) };
}
