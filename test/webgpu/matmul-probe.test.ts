// The matmul probe (bench/lib/matmul-probe.ts) on Dawn/SwiftShader: its float64 check passes the
// real kernels and catches broken ones — a tile that never writes the last row, one that skips the
// last K tile — on a problem checked whole and on one checked by sampled rows and columns; a
// wrong candidate is not timed and never the best.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import { runMatmulProbe, STOCK_CANDIDATES, tileCandidate, type ProbeCandidate } from '../../bench/lib/matmul-probe';
import { matmulProgram } from '../../kernels/matmul';
import { dispatch } from '../../kernels/dispatch';
import { TILE_CANDIDATES } from '../../kernels/tuning';
import type { TileConfig } from '../../kernels/matmul.wgsl';

beforeAll(async () => {
  expect(await installNodeWebGPU({ swiftshader: true })).toBe(true);
  expect((await initBackend({ prefer: 'webgpu' })).name).toBe('webgpu');
});

const VEC4_128 = TILE_CANDIDATES.find((c) => c.vec4 && c.RM === 8 && c.RN === 8 && c.WX === 16)!;

/** A tile whose WGSL is edited by `bug` (the edit must change it). */
function broken(name: string, tile: TileConfig, bug: (code: string) => string): ProbeCandidate {
  return {
    name,
    run: (p, qKN, qNK, problem) => {
      const q = problem.transQ ? qNK : qKN;
      const program = matmulProgram({ p: { t: p, trans: false }, q: { t: q, trans: problem.transQ }, alpha: 1 }, undefined, undefined, tile);
      const code = bug(program.code);
      if (code === program.code) throw new Error(`${name}: the bug did not apply`);
      const [out] = dispatch(tf.backend(), { ...program, name: `${program.name}_${name}`, code });
      return tf.engine().makeTensorFromTensorInfo(out);
    },
  };
}

const CANDIDATES = [
  STOCK_CANDIDATES[1],
  tileCandidate(VEC4_128),
  tileCandidate(TILE_CANDIDATES[0]),
  broken('no-last-row', VEC4_128, (c) => c.replaceAll('row < uniforms.dimM', 'row < uniforms.dimM - 1')),
  broken('short-k', TILE_CANDIDATES[0], (c) => c.replace('k0 < uniforms.dimK1', 'k0 + 16 < uniforms.dimK1')),
];

describe('matmul probe', () => {
  it.each([
    // checked whole
    [{ label: 'whole', m: 70, n: 68, k: 40, transP: false, transQ: true }],
    // checked on sampled rows × columns (incl. the last row and column), K past one tile
    [{ label: 'sampled', m: 260, n: 136, k: 48, transP: false, transQ: false }],
  ])('passes the real kernels and reports broken ones as wrong, untimed: %o', async (problem) => {
    const before = tf.memory().numTensors;
    const [row] = await runMatmulProbe([problem], { repeats: 2, candidates: CANDIDATES, fullCheckEntries: 70 * 68 });
    expect(row.checked).toBe(problem.label === 'whole' ? 70 * 68 : 24 * 24);
    const by = Object.fromEntries(row.results.map((r) => [r.candidate, r]));
    for (const good of [CANDIDATES[0], CANDIDATES[1], CANDIDATES[2]]) {
      expect(by[good.name].ok, good.name).toBe(true);
      expect(by[good.name].error).toBeLessThan(1e-6);
      expect(by[good.name].tflops).toBeGreaterThan(0);
    }
    for (const bad of ['no-last-row', 'short-k']) {
      expect(by[bad].failure, bad).toBeUndefined();
      expect(by[bad].ok, bad).toBe(false);
      expect(by[bad].error, bad).toBeGreaterThan(1e-3);
      expect(by[bad].ms, `${bad} is not timed`).toBeNull();
    }
    expect(['no-last-row', 'short-k']).not.toContain(row.best);
    expect(row.bestTile).not.toBeNull();
    expect(tf.memory().numTensors).toBe(before);
  });
});
