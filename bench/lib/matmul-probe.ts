// The matmul probe: TFLOP/s of stock tf.matMul (NN and NT) and of every candidate tile of the
// fused kernels on the frozen-weight products of LoRA training (x·Wᵀ forward, dy·W backward),
// each result first checked against float64 on the host. A candidate that computes a wrong
// product is reported as wrong and never timed, so it cannot be anyone's winner.
//
// Timing: `repeats` products queued back to back on the same operands, then one submit and one
// wait for the queue (no read-back of the outputs): the mean per product. Browser-safe (no Node
// modules); bench/matmul.ts is its command line.
import { tf } from '../../src/engine/tf';
import { parseModelConfig, linearShapes } from '../../src/engine/model/config';
import { TILE_CANDIDATES, type MatmulProblem } from '../../kernels/tuning';
import { matmulWithTile } from '../../kernels/matmul';
import { tileKey, type TileConfig } from '../../kernels/matmul.wgsl';
import { submit } from '../../kernels/dispatch';
import { mulberry32 } from '../../src/engine/rng';
import MODEL_CONFIGS from '../model-configs.json';

export const PROBE_SCHEMA = 'weblora-matmul-probe/1';

/** One product op(P)·op(Q) with P [m, k] (never transposed here) and where it comes from. */
export interface ProbeProblem extends MatmulProblem {
  /** e.g. "smollm2-135m gate/up fwd" or "4096³". */
  label: string;
}

/** A way to compute the product: stock TF.js or a fused tile (or, in tests, a broken one). */
export interface ProbeCandidate {
  name: string;
  tile?: TileConfig;
  /** op(P)·op(Q); `qKN` is Q stored [k, n], `qNK` stored [n, k] — each candidate reads the layout it wants. */
  run(p: tf.Tensor2D, qKN: tf.Tensor2D, qNK: tf.Tensor2D, problem: ProbeProblem): tf.Tensor;
}

export interface ProbeResult {
  candidate: string;
  tile?: string;
  /** Max over the checked entries of |C − C64| / Σ_k |P·Q| (the float32 rounding scale of each entry). */
  error: number;
  ok: boolean;
  /** Mean ms per product; null when the result was wrong (not timed) or the run failed. */
  ms: number | null;
  tflops: number | null;
  failure?: string;
}

export interface ProbeRow {
  problem: ProbeProblem;
  /** How many output entries were checked against float64 (all of them on small problems). */
  checked: number;
  results: ProbeResult[];
  /** The fastest correct candidate, and the fastest correct fused tile. */
  best: string | null;
  bestTile: string | null;
}

export interface ProbeOptions {
  repeats?: number;
  /** Entries at most for a full float64 check; bigger outputs check sampled rows × columns. */
  fullCheckEntries?: number;
  /** The error bound of `ProbeResult.error`. */
  tolerance?: number;
  candidates?: readonly ProbeCandidate[];
  log?: (line: string) => void;
  /** Called with the rows so far after each problem (a report that survives a timeout). */
  onRow?: (rows: readonly ProbeRow[]) => Promise<void>;
}

export const STOCK_CANDIDATES: readonly ProbeCandidate[] = [
  { name: 'tf.matMul NN', run: (p, qKN) => tf.matMul(p, qKN, false, false) },
  { name: 'tf.matMul NT', run: (p, _qKN, qNK) => tf.matMul(p, qNK, false, true) },
];

export const tileCandidate = (tile: TileConfig): ProbeCandidate => ({
  name: tileKey(tile),
  tile,
  run: (p, qKN, qNK, problem) => matmulWithTile(tile, p, problem.transQ ? qNK : qKN, problem),
});

export const DEFAULT_CANDIDATES: readonly ProbeCandidate[] = [...STOCK_CANDIDATES, ...TILE_CANDIDATES.map(tileCandidate)];

/** The models whose frozen products the probe measures (configs in bench/model-configs.json). */
export const PROBE_MODELS = ['smollm2-135m', 'smollm2-360m', 'qwen2.5-0.5b'] as const;
export const PROBE_ROWS = [2048, 8192];
export const SHAPE_SETS = ['4096', 'models', 'small'] as const;
export type ShapeSet = (typeof SHAPE_SETS)[number];

/** Forward x·Wᵀ and backward dy·W of every distinct linear [in, out] of a model, at M rows. */
export function modelProblems(model: keyof typeof MODEL_CONFIGS, rows: readonly number[]): ProbeProblem[] {
  const config = parseModelConfig({ ...MODEL_CONFIGS[model].config });
  const out: ProbeProblem[] = [];
  const seen = new Set<string>();
  for (const m of rows) {
    for (const l of linearShapes(config)) {
      for (const p of [
        { label: `${model} ${l.in}→${l.out} fwd x·Wᵀ`, m, n: l.out, k: l.in, transP: false, transQ: true },
        { label: `${model} ${l.in}→${l.out} bwd dy·W`, m, n: l.in, k: l.out, transP: false, transQ: false },
      ]) {
        const key = `${p.m}x${p.n}x${p.k}${p.transQ}`;
        if (!seen.has(key)) out.push(p), seen.add(key);
      }
    }
  }
  return out;
}

export function probeProblems(sets: readonly ShapeSet[]): ProbeProblem[] {
  const out: ProbeProblem[] = [];
  for (const s of sets) {
    if (s === '4096') {
      out.push({ label: '4096³ x·Wᵀ', m: 4096, n: 4096, k: 4096, transP: false, transQ: true });
      out.push({ label: '4096³ dy·W', m: 4096, n: 4096, k: 4096, transP: false, transQ: false });
    } else if (s === 'models') {
      for (const m of PROBE_MODELS) out.push(...modelProblems(m, PROBE_ROWS));
    } else {
      // Quick enough for SwiftShader: stories260K's products at 130 rows (edge tiles everywhere) and a 256³.
      out.push({ label: '256³ x·Wᵀ', m: 256, n: 256, k: 256, transP: false, transQ: true });
      out.push(...modelProblems('stories260K', [130]));
    }
  }
  return out;
}

/** Uniform [-1, 1) draws, reused for every problem (the values do not matter for speed). */
function randomPool(n: number): Float32Array {
  const r = mulberry32(7);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = r() * 2 - 1;
  return v;
}

/** Rows (or columns) to check: all when few, else the first, the last (edge tiles) and a spread between. */
function sampleIndices(n: number, count: number, seed: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const r = mulberry32(seed);
  const set = new Set([0, n - 1, Math.min(n - 1, 127), Math.max(0, n - 129)]);
  while (set.size < count) set.add(Math.floor(r() * n));
  return [...set].sort((a, b) => a - b);
}

/**
 * The float64 check of C = P·Q (P [m, k], Q as [k, n]) on rows × cols of C, whose entries `got`
 * holds row by row: max |C − C64| / Σ_k |P·Q|.
 */
export function checkEntries(p: Float32Array, qKN: Float32Array, pr: MatmulProblem, rows: number[], cols: number[], got: ArrayLike<number>): number {
  const { n, k } = pr;
  let worst = 0;
  rows.forEach((i, a) => {
    cols.forEach((j, b) => {
      let s = 0;
      let abs = 0;
      for (let t = 0; t < k; t++) {
        const v = p[i * k + t] * qKN[t * n + j];
        s += v;
        abs += Math.abs(v);
      }
      const e = Math.abs(got[a * cols.length + b] - s) / Math.max(abs, 1e-30);
      worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
    });
  });
  return worst;
}

/** Waits until the GPU has run everything queued so far (one submit, no read-back). */
async function drain(): Promise<void> {
  const backend = tf.backend();
  if (tf.getBackend() === 'webgpu') {
    submit(backend);
    await (backend as unknown as { device: GPUDevice }).device.queue.onSubmittedWorkDone();
  } else {
    await tf.zeros([1]).data();
  }
}

/**
 * Zeroes every buffer in the backend's free pool. A candidate's output comes from that pool, so
 * without it a kernel that skips some entries could show a previous candidate's correct values
 * there (zero is wrong for random data). tfjs-backend-webgpu keeps its pool in a private
 * `bufferManager.freeBuffers` (key → buffers); without it new buffers are zero anyway.
 */
function zeroFreeBuffers(): void {
  if (tf.getBackend() !== 'webgpu') return;
  const backend = tf.backend() as unknown as { device: GPUDevice; bufferManager?: { freeBuffers?: Map<string, GPUBuffer[]> } };
  const free = backend.bufferManager?.freeBuffers;
  if (!(free instanceof Map)) return;
  submit(backend);
  const encoder = backend.device.createCommandEncoder();
  for (const buffers of free.values()) for (const b of buffers) if (b.usage & GPUBufferUsage.COPY_DST) encoder.clearBuffer(b);
  backend.device.queue.submit([encoder.finish()]);
}

/**
 * Destroys the free pool's buffers: each problem leaves `repeats` outputs of its own size there,
 * which no later problem reuses (tens of GB over the models' products otherwise).
 */
function releaseFreeBuffers(): void {
  if (tf.getBackend() !== 'webgpu') return;
  const backend = tf.backend() as unknown as { bufferManager?: { freeBuffers?: Map<string, GPUBuffer[]>; numFreeBuffers?: number; numBytesAllocated?: number } };
  const m = backend.bufferManager;
  if (!(m?.freeBuffers instanceof Map) || typeof m.numFreeBuffers !== 'number' || typeof m.numBytesAllocated !== 'number') return;
  submit(tf.backend());
  for (const buffers of m.freeBuffers.values()) {
    for (const b of buffers.splice(0)) {
      m.numFreeBuffers--;
      m.numBytesAllocated -= b.size;
      b.destroy();
    }
  }
}

/** Runs the probe on the current backend (webgpu for the tiles). */
export async function runMatmulProbe(problems: readonly ProbeProblem[], opts: ProbeOptions = {}): Promise<ProbeRow[]> {
  const repeats = opts.repeats ?? 10;
  const fullCheck = opts.fullCheckEntries ?? 1 << 16;
  const tolerance = opts.tolerance ?? 1e-5;
  const candidates = opts.candidates ?? DEFAULT_CANDIDATES;
  const log = opts.log ?? (() => {});
  const poolSize = Math.max(...problems.map((p) => p.m * p.k + p.k * p.n));
  const pool = randomPool(poolSize);
  const rows: ProbeRow[] = [];
  for (const problem of problems) {
    const { m, n, k } = problem;
    const flops = 2 * m * n * k;
    const pHost = pool.subarray(0, m * k);
    const qHost = pool.subarray(m * k, m * k + k * n); // Q as [k, n]
    const qT = new Float32Array(k * n);
    for (let t = 0; t < k; t++) for (let j = 0; j < n; j++) qT[j * k + t] = qHost[t * n + j];
    const p = tf.tensor2d(pHost, [m, k]);
    const qKN = tf.tensor2d(qHost, [k, n]);
    const qNK = tf.tensor2d(qT, [n, k]);
    const full = m * n <= fullCheck;
    const rowIdx = full ? Array.from({ length: m }, (_, i) => i) : sampleIndices(m, 24, 11);
    const colIdx = full ? Array.from({ length: n }, (_, j) => j) : sampleIndices(n, 24, 12);
    const rowsT = tf.tensor1d(rowIdx, 'int32');
    const colsT = tf.tensor1d(colIdx, 'int32');
    const results: ProbeResult[] = [];
    for (const c of candidates) {
      const result: ProbeResult = { candidate: c.name, ...(c.tile ? { tile: tileKey(c.tile) } : {}), error: NaN, ok: false, ms: null, tflops: null };
      results.push(result);
      try {
        // The first run compiles the pipeline; its result is the one checked.
        await drain();
        zeroFreeBuffers();
        const got = tf.tidy(() => {
          const out = c.run(p, qKN, qNK, problem);
          return full ? out : tf.gather(tf.gather(out, rowsT, 0), colsT, 1);
        });
        const values = await got.data();
        got.dispose();
        result.error = checkEntries(pHost, qHost, problem, rowIdx, colIdx, values);
        result.ok = result.error < tolerance;
        if (!result.ok) {
          log(`  ${problem.label} ${m}×${n}×${k}: ${c.name} is WRONG (error ${result.error.toExponential(2)} ≥ ${tolerance}); not timed`);
          continue;
        }
        await drain();
        const t0 = performance.now();
        const outs: tf.Tensor[] = [];
        for (let i = 0; i < repeats; i++) outs.push(c.run(p, qKN, qNK, problem));
        await drain();
        result.ms = (performance.now() - t0) / repeats;
        result.tflops = flops / (result.ms * 1e9);
        tf.dispose(outs);
      } catch (e) {
        result.ok = false;
        result.failure = e instanceof Error ? e.message : String(e);
        log(`  ${problem.label}: ${c.name} failed: ${result.failure}`);
      }
    }
    tf.dispose([p, qKN, qNK, rowsT, colsT]);
    await drain();
    releaseFreeBuffers();
    const fastest = (rs: ProbeResult[]) => rs.filter((r) => r.ok && r.ms !== null).sort((a, b) => a.ms! - b.ms!)[0]?.candidate ?? null;
    const row: ProbeRow = { problem, checked: rowIdx.length * colIdx.length, results, best: fastest(results), bestTile: fastest(results.filter((r) => r.tile)) };
    rows.push(row);
    await opts.onRow?.(rows);
    const each = results.map((r) => `${r.candidate} ${r.failure ? 'FAILED' : !r.ok ? 'WRONG' : r.tflops!.toPrecision(3)}`).join(', ');
    log(`${problem.label} ${m}×${n}×${k} (TFLOP/s): ${each}; best ${row.best}`);
  }
  return rows;
}

/** One line per problem: TFLOP/s of every candidate ('WRONG' where the check failed), the best, best tile ÷ best stock. */
export function formatProbe(rows: readonly ProbeRow[], peakTflops: number | null = null): string {
  if (!rows.length) return 'no problems';
  const names = rows[0].results.map((r) => r.candidate);
  const header = ['problem', 'm×n×k', ...names, 'best', 'tile÷stock', ...(peakTflops ? ['best % peak'] : [])];
  const fastest = (rs: ProbeResult[]) => Math.max(0, ...rs.filter((r) => r.ok && r.tflops !== null).map((r) => r.tflops!));
  const lines = rows.map((row) => {
    const stock = fastest(row.results.filter((r) => !r.tile));
    const tile = fastest(row.results.filter((r) => r.tile));
    const best = Math.max(stock, tile);
    return [
      row.problem.label,
      `${row.problem.m}×${row.problem.n}×${row.problem.k}`,
      ...names.map((name) => {
        const r = row.results.find((x) => x.candidate === name);
        if (!r) return '';
        if (r.failure) return 'FAILED';
        if (!r.ok) return 'WRONG';
        return r.tflops! < 0.1 ? r.tflops!.toPrecision(2) : r.tflops!.toFixed(2);
      }),
      row.best ?? '–',
      stock && tile ? `${(tile / stock).toFixed(2)}×` : '–',
      ...(peakTflops ? [`${((100 * best) / peakTflops).toFixed(1)}%`] : []),
    ];
  });
  const width = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (l: string[]) => l.map((c, i) => (i < 2 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ');
  return [`TFLOP/s (mean of queued products; WRONG = failed the float64 check, not timed)`, fmt(header), ...lines.map(fmt)].join('\n');
}
