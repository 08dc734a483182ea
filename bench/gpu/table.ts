// One table over several reports (bench/run.ts's and bench/torch_peer.py's, weblora-bench/1):
// run.sh runs each model × variant as its own process, so that one that hangs or runs out of
// memory costs only its row, and this puts the rows back together. Bundled by pack.sh into
// .gpu-bundle/app/table.mjs, run by the bundle's node:
//
//   node table.mjs [--git git.json] [--combined all.json] report.json...
//
// --git fills the `git` field of reports that could not read it (the bundle runs outside any
// checkout) from pack.sh's record, writing those reports back; --combined writes every report
// into one JSON file ({ reports: [...] }).
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { formatComparisons, formatTable } from '../lib/table';
import type { BenchReport, BenchRow } from '../lib/schema';

function main(argv: string[]): number {
  let gitFile: string | null = null;
  let combined: string | null = null;
  const files: string[] = [];
  for (let k = 0; k < argv.length; k++) {
    if (argv[k] === '--git') gitFile = argv[++k] ?? null;
    else if (argv[k] === '--combined') combined = argv[++k] ?? null;
    else files.push(argv[k]!);
  }
  const stamp = gitFile ? (JSON.parse(readFileSync(gitFile, 'utf8')) as { commit: string; dirty: boolean; packedAt: string; sources: string }) : null;
  const reports: { file: string; report: BenchReport }[] = [];
  for (const file of files) {
    try {
      const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
      if (stamp && !report.git?.commit) {
        report.git = { commit: stamp.commit, dirty: stamp.dirty };
        report.software = { ...report.software, 'gpu-bundle': `packed ${stamp.packedAt}, sources ${stamp.sources}` };
        writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
      }
      reports.push({ file, report });
    } catch (e) {
      process.stderr.write(`table: skipping ${file}: ${(e as Error).message}\n`);
    }
  }
  if (!reports.length) {
    process.stdout.write('table: no reports\n');
    return 1;
  }
  for (const { file, report } of reports) {
    const c = report.config;
    const where = report.backends.map((b) => `${b.name}: ${b.reason}${b.software ? ' [SOFTWARE adapter]' : ''}`).join('; ');
    process.stdout.write(
      `${basename(file)}: ${report.runner}, git ${report.git.commit?.slice(0, 10) ?? '?'}${report.git.dirty ? ' (dirty)' : ''}, ` +
        `${c.warmup}+${c.steps} steps, peak ${c.peakTflops ?? '-'}${c.peakTflopsBf16 ? `/${c.peakTflopsBf16} bf16` : ''} TFLOP/s — ${where}\n`,
    );
  }
  // Rows grouped by model, in the order the models first appear (run.sh's order).
  const rows = reports.flatMap((r) => r.report.rows);
  const models = [...new Set(rows.map((r) => r.model))];
  const sorted = models.flatMap((m) => rows.filter((r) => r.model === m));
  process.stdout.write(`\n${formatTable(sorted)}\n`);
  const lines = [formatComparisons(sorted), peerComparisons(sorted)].filter(Boolean);
  if (lines.length) process.stdout.write(`\n${lines.join('\n')}\n`);
  if (combined) writeFileSync(combined, JSON.stringify({ reports: reports.map((r) => ({ file: basename(r.file), ...r.report })) }, null, 2) + '\n');
  return 0;
}

/** Each WebGPU row's training tokens/s as a fraction of the PyTorch peer's on the same model and shape. */
function peerComparisons(rows: readonly BenchRow[]): string {
  const ok = rows.filter((r) => r.status === 'ok' && r.train);
  const same = (a: BenchRow, b: BenchRow) => a.model === b.model && a.shape.batch === b.shape.batch && a.shape.seq === b.shape.seq && a.shape.rank === b.shape.rank;
  const out: string[] = [];
  for (const r of ok.filter((x) => !x.backend.startsWith('torch'))) {
    const peers = ok.filter((p) => p.backend.startsWith('torch') && same(p, r));
    if (!peers.length) continue;
    const parts = peers.map((p) => `${(r.train!.tokensPerSec / p.train!.tokensPerSec).toFixed(3)}× ${p.variant}`);
    out.push(`${r.model} ${r.backend} ${r.variant} ÷ ${peers[0]!.backend}: tokens/s ${parts.join(', ')}`);
  }
  return out.join('\n');
}

process.exit(main(process.argv.slice(2)));
