// Files to normalised samples: read, detect each file's format (or take the one given),
// normalise every record. Needs no tokenizer, so the UI can preview a dataset before a model
// is loaded.
import { detectFormat, normalizeRecord, type ColumnMapping, type DatasetFormat, type Detection } from './formats';
import { readJsonl, type Container } from './jsonl';
import type { DataSource } from './source';
import type { DataIssue, Sample } from './types';

export interface DataFile {
  /** Shown in every issue; a file name or path. */
  name: string;
  source: DataSource;
}

export interface LoadOptions {
  /** Overrides detection for every file. */
  format?: DatasetFormat;
  /** A column mapping; implies format 'columns' when no format is given. */
  columns?: ColumnMapping;
}

export interface SourcedSample {
  file: string;
  line: number;
  sample: Sample;
}

export interface FileReport {
  file: string;
  container: Container;
  format: DatasetFormat;
  /** False when the format was given rather than detected. */
  detected: boolean;
  detection: Detection;
  lines: number;
  blankLines: number;
  /** Non-blank lines (JSONL) or array elements: good + bad. */
  records: number;
  good: number;
  bad: number;
  /** Samples made from the good records (self-instruct makes one per instance). */
  samples: number;
}

export interface LoadedDataset {
  samples: SourcedSample[];
  files: FileReport[];
  /** Bad lines and records, each skipped. */
  issues: DataIssue[];
  warnings: DataIssue[];
}

/** No format could be detected: the caller should ask for a column mapping over `keys`. */
export class DatasetFormatError extends Error {
  constructor(
    readonly file: string,
    readonly keys: string[],
  ) {
    super(
      `${file}: could not detect the dataset format from the keys ${keys.map((k) => `"${k}"`).join(', ') || '(none)'}; ` +
        'give a column mapping such as { prompt: "question", response: "answer" }',
    );
    this.name = 'DatasetFormatError';
  }
}

export async function loadDataset(files: DataFile | readonly DataFile[], opts: LoadOptions = {}): Promise<LoadedDataset> {
  const list = Array.isArray(files) ? files : [files as DataFile];
  const out: LoadedDataset = { samples: [], files: [], issues: [], warnings: [] };
  for (const f of list) {
    const read = await readJsonl(f.source, f.name);
    out.issues.push(...read.issues);
    const detection = detectFormat(read.records.map((r) => r.value));
    const format = opts.format ?? (opts.columns ? 'columns' : detection.format);
    if (!format) throw new DatasetFormatError(f.name, detection.keys);
    if (format === 'columns' && !opts.columns) throw new Error('format "columns" needs a column mapping');
    let good = 0;
    let samples = 0;
    for (const rec of read.records) {
      const n = normalizeRecord(rec.value, { format, ...(opts.columns ? { columns: opts.columns } : {}) });
      if (!n.ok) {
        out.issues.push({ file: f.name, line: rec.line, reason: n.reason });
        continue;
      }
      good++;
      for (const w of n.warnings) out.warnings.push({ file: f.name, line: rec.line, reason: w });
      for (const sample of n.samples) out.samples.push({ file: f.name, line: rec.line, sample });
      samples += n.samples.length;
    }
    const records = read.records.length + read.issues.length;
    out.files.push({
      file: f.name,
      container: read.container,
      format,
      detected: opts.format === undefined && opts.columns === undefined,
      detection,
      lines: read.lines,
      blankLines: read.blankLines,
      records,
      good,
      bad: records - good,
      samples,
    });
  }
  out.issues.sort(byPlace);
  return out;
}

function byPlace(a: DataIssue, b: DataIssue): number {
  return a.file === b.file ? a.line - b.line : 0;
}
