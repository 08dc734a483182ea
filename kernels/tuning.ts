// Tile shapes for the frozen-weight matmuls (x·Wᵀ forward, dy·W backward — the bulk of a step's
// FLOPs, in the LoRA linear's two-segment kernel), chosen by measurement on the device at hand:
// `tuneMatmuls` times every candidate on each problem and records the fastest; `matmul()` then
// looks the problem up, falling back to the default 64×64 tile. No table is shipped: the right
// tile depends on the GPU (and SwiftShader's choice says nothing about an H100's).
import { tf } from '../src/engine/tf';
import { MM, tileKey, tileM, tileN, type TileConfig } from './matmul.wgsl';

/**
 * Every candidate respects WebGPU's default limits (≤ 256 lanes, ≤ 16 KiB of workgroup memory)
 * and loads whole tiles per lane pass ((tile · TK) divisible by the lane count).
 */
export const TILE_CANDIDATES: readonly TileConfig[] = [
  MM, // 64×64, 16×16 lanes of 4×4
  { WX: 16, WY: 16, RM: 2, RN: 2, TK: 16 }, // 32×32: more workgroups for small outputs
  { WX: 8, WY: 8, RM: 4, RN: 4, TK: 16 }, // 32×32 with 64 lanes
  { WX: 16, WY: 16, RM: 8, RN: 4, TK: 8 }, // 128×64
  { WX: 16, WY: 16, RM: 4, RN: 8, TK: 8 }, // 64×128
  { WX: 16, WY: 16, RM: 8, RN: 8, TK: 8 }, // 128×128: most reuse per load, most registers
  // Register-blocked (matmul-vec4.wgsl.ts): 4 × 4 blocks per lane, vec4 loads, prefetch, unrolled.
  { WX: 16, WY: 16, RM: 8, RN: 8, TK: 8, vec4: true }, // 128×128
  { WX: 16, WY: 16, RM: 8, RN: 4, TK: 16, vec4: true }, // 128×64
  { WX: 16, WY: 16, RM: 4, RN: 8, TK: 16, vec4: true }, // 64×128
  { WX: 16, WY: 16, RM: 4, RN: 4, TK: 16, vec4: true }, // 64×64
  { WX: 8, WY: 8, RM: 8, RN: 8, TK: 8, vec4: true }, // 64×64 with 64 lanes of 8×8
];

export interface MatmulProblem {
  m: number;
  n: number;
  k: number;
  transP: boolean;
  transQ: boolean;
}

// Rows (tokens per micro-batch) vary with length bucketing; a tile measured at M serves every M'
// of the same power-of-two bucket, while N and K (the weight's shape) must match exactly.
export const rowBucket = (m: number) => 2 ** Math.ceil(Math.log2(Math.max(1, m)));
const problemKey = (p: MatmulProblem) => `${rowBucket(p.m)}x${p.n}x${p.k}_${p.transP ? 't' : 'n'}${p.transQ ? 't' : 'n'}`;
const table = new Map<string, TileConfig>();

/** The tile for this problem: the measured best, or the default. */
export function tileFor(p: MatmulProblem): TileConfig {
  return table.get(problemKey(p)) ?? MM;
}

/** Whether a measured tile is recorded for this problem's bucket. */
export function isTuned(p: MatmulProblem): boolean {
  return table.has(problemKey(p));
}

/** Records `cfg` for this problem's bucket, as a measurement would (a saved table, a test). */
export function setTile(p: MatmulProblem, cfg: TileConfig): void {
  table.set(problemKey(p), cfg);
}

export function clearTuning(): void {
  table.clear();
}

export interface TuningResult {
  problem: MatmulProblem;
  /** Milliseconds per product (mean of `repeats` queued back to back), per candidate (tileKey). */
  ms: Record<string, number>;
  best: string;
}

/**
 * Times each candidate tile on each problem (webgpu backend, fused mode not required) and keeps
 * the fastest for `matmul()`. `run(cfg, p, q)` dispatches the product with that tile; it is
 * injected so that this file needs no knowledge of how the kernels are registered.
 */
export async function tuneMatmuls(
  problems: readonly MatmulProblem[],
  run: (cfg: TileConfig, p: tf.Tensor2D, q: tf.Tensor2D, problem: MatmulProblem) => tf.Tensor,
  opts: { repeats?: number; candidates?: readonly TileConfig[] } = {},
): Promise<TuningResult[]> {
  const repeats = opts.repeats ?? 5;
  const candidates = opts.candidates ?? TILE_CANDIDATES;
  const results: TuningResult[] = [];
  for (const problem of problems) {
    const key = problemKey(problem);
    if (table.has(key)) continue;
    const p = tf.randomUniform(problem.transP ? [problem.k, problem.m] : [problem.m, problem.k], -1, 1, 'float32', 1) as tf.Tensor2D;
    const q = tf.randomUniform(problem.transQ ? [problem.n, problem.k] : [problem.k, problem.n], -1, 1, 'float32', 2) as tf.Tensor2D;
    const ms: Record<string, number> = {};
    for (const cfg of candidates) {
      // A tile far larger than the output only wastes lanes; skip what cannot win.
      if (tileM(cfg) > 2 * problem.m && tileM(cfg) > 32) continue;
      if (tileN(cfg) > 2 * problem.n && tileN(cfg) > 32) continue;
      const warm = run(cfg, p, q, problem); // compiles the pipeline
      await warm.data();
      warm.dispose();
      // Queued back to back and read once: a read-back per product would time the sync instead.
      const t0 = performance.now();
      const outs = Array.from({ length: repeats }, () => run(cfg, p, q, problem));
      await outs[outs.length - 1]!.data();
      ms[tileKey(cfg)] = (performance.now() - t0) / repeats;
      tf.dispose(outs);
    }
    tf.dispose([p, q]);
    const best = Object.entries(ms).sort((a, b) => a[1] - b[1])[0]![0];
    table.set(key, candidates.find((c) => tileKey(c) === best)!);
    results.push({ problem, ms, best });
  }
  return results;
}
