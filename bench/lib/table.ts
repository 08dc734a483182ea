// The printed form of a report: one line per row, then (when a run has more than one variant)
// each variant's ratios to stock on the same model and backend.
import type { BenchReport, BenchRow, PairFigures } from './schema';

const MiB = 1024 * 1024;

function fmt(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return x.toFixed(digits);
}

function pct(x: number | null | undefined): string {
  return x === null || x === undefined ? '-' : `${(x * 100).toFixed(x < 0.01 ? 3 : 1)}%`;
}

function tflops(x: number | undefined): string {
  if (x === undefined) return '-';
  return x >= 0.1 ? x.toFixed(2) : x.toPrecision(2);
}

/** fp32, or f16-base with the half kernel that ran (simt: SIMT f16; sgmat: subgroup matrices). */
function precisionCell(r: BenchRow): string {
  const p = r.precision ?? 'fp32';
  if (p === 'fp32' || !r.frozenMatmul) return p;
  return `${p} ${r.frozenMatmul === 'subgroup-matrix' ? 'sgmat' : 'simt'}`;
}

const COLUMNS = [
  'model',
  'backend',
  'variant',
  'precision',
  'B×T r',
  'train tok/s',
  'step ms',
  'TFLOP/s',
  'MFU',
  'peak MiB',
  'step MiB',
  'step buf MiB',
  'disp/step',
  'kern/step',
  'prefill tok/s',
  'decode tok/s',
  'disp/token',
  'base+tuned tok/s',
] as const;

export function rowCells(r: BenchRow, countOnly = false): string[] {
  const shape = `${r.shape.batch}×${r.shape.seq} r${r.shape.rank}`;
  const precision = precisionCell(r);
  if (r.status !== 'ok') return [r.model, r.backend, r.variant, precision, shape, `${r.status}: ${r.error ?? ''}`];
  // A count-only run executed no GPU work: its timings say nothing.
  const timing = (s: string) => (countOnly ? 'n/a' : s);
  return [
    r.model,
    r.backend,
    r.variant,
    precision,
    shape,
    timing(fmt(r.train?.tokensPerSec)),
    timing(fmt(r.train?.stepMsMedian, 0)),
    timing(tflops(r.train?.tflops)),
    timing(pct(r.train?.mfu)),
    r.memory ? fmt(r.memory.peakBytes / MiB) : '-',
    r.memory ? fmt(r.memory.stepPeakBytes / MiB) : '-',
    r.memory ? fmt(r.memory.stepPeakBufferBytes / MiB) : '-',
    fmt(r.counts?.dispatchesPerStep, 0),
    fmt(r.counts?.tfKernelsPerStep, 0),
    timing(fmt(r.generate?.prefillTokensPerSec)),
    timing(fmt(r.generate?.decodeTokensPerSec, 2)),
    fmt(r.generate?.dispatchesPerDecodedToken, 0),
    // Compare's case: both rows of one batched generation, and × one row's tokens/s (target ≥ 1.8).
    timing(pairCell(r.generate?.baseAndTuned)),
  ];
}

function pairCell(p: PairFigures | undefined): string {
  if (!p) return '-';
  return `${fmt(p.decodeTokensPerSec, 2)}${p.speedupOverOneRow ? ` (${p.speedupOverOneRow.toFixed(2)}×)` : ''}`;
}

export function formatTable(rows: readonly BenchRow[], countOnly = false): string {
  const lines = rows.map((r) => rowCells(r, countOnly));
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...lines.map((l) => (l.length === COLUMNS.length ? (l[i] ?? '').length : 0))));
  const pad = (cells: readonly string[]) =>
    cells.length === COLUMNS.length
      ? cells.map((s, i) => (i < 4 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ')
      : cells.slice(0, 4).map((s, i) => s.padEnd(widths[i]!)).join('  ') + '  ' + cells.slice(4).join(' ');
  const header = pad([...COLUMNS]);
  return [header, '-'.repeat(header.length), ...lines.map(pad)].join('\n');
}

/** Ratios of each non-stock variant to stock on the same model and backend. */
export function formatComparisons(rows: readonly BenchRow[], countOnly = false): string {
  const out: string[] = [];
  const ok = rows.filter((r) => r.status === 'ok');
  for (const r of ok) {
    if (r.variant === 'stock') continue;
    const base = ok.find((s) => s.variant === 'stock' && s.model === r.model && s.backend === r.backend);
    if (!base?.train || !r.train) continue;
    const ratio = (a?: number | null, b?: number | null) => (a && b ? (a / b).toFixed(2) + '×' : '-');
    out.push(
      `${r.model} ${r.backend}: ${r.variant}${r.precision && r.precision !== 'fp32' ? ` ${r.precision}` : ''} ÷ stock — ${countOnly ? '' : `tokens/s ${ratio(r.train.tokensPerSec, base.train.tokensPerSec)}, `}` +
        `dispatches ${ratio(r.counts?.dispatchesPerStep, base.counts?.dispatchesPerStep)}, ` +
        `step peak bytes ${ratio(r.memory?.stepPeakBytes, base.memory?.stepPeakBytes)} ` +
        `(distinct buffers ${ratio(r.memory?.stepPeakBufferBytes, base.memory?.stepPeakBufferBytes)})`,
    );
  }
  return out.join('\n');
}

export function formatReport(report: BenchReport): string {
  const c = report.config;
  const head =
    `${report.runner} · ${report.createdAt} · git ${report.git.commit?.slice(0, 10) ?? '?'}${report.git.dirty ? ' (dirty)' : ''} · ` +
    `${c.warmup} warm-up + ${c.steps} timed steps · ${c.generate ? `generation ${c.promptTokens}+${c.newTokens}` : 'no generation'}` +
    (c.peakTflops ? ` · peak ${c.peakTflops} TFLOP/s` : '') +
    (c.countOnly ? ' · COUNT-ONLY: dispatches counted, not executed; no timings' : '');
  const backends = report.backends
    .map((b) => `  ${b.name}: ${b.reason}${b.software ? ' [software adapter]' : ''}${b.wasmThreads !== undefined ? ` [${b.wasmThreads} wasm threads]` : ''}`)
    .join('\n');
  const cmp = formatComparisons(report.rows, !!c.countOnly);
  return [head, backends, '', formatTable(report.rows, !!c.countOnly), ...(cmp ? ['', cmp] : [])].join('\n');
}
