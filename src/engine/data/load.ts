// Files to normalised samples: read, detect each file's format (or take the one given),
// normalise every record. Needs no tokenizer, so the UI can preview a dataset before a model
// is loaded.
import { explainNoRecords, noFieldsError } from './diagnose';
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
  /** With format 'columns': the mapping used (given, or detected from common key pairs). */
  columns?: ColumnMapping;
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

/**
 * The records are JSON objects, but in no format detected (nor in a common key pair): the
 * caller should ask for a column mapping over `keys`.
 */
export class DatasetFormatError extends Error {
  constructor(
    readonly file: string,
    readonly keys: string[],
    /** The first records, each with its line and keys, to show what the file holds. */
    readonly records: ReadonlyArray<{ line: number; keys: string[] }> = [],
    /** How many records there are in all. */
    readonly total = records.length,
  ) {
    const [prompt = 'KEY', response = 'KEY'] = keys;
    super(
      `${file}: could not detect the dataset format from the keys ${keys.map((k) => `"${k}"`).join(', ')}; ` +
        `give a column mapping such as { prompt: "${prompt}", response: "${response}" }`,
    );
    this.name = 'DatasetFormatError';
  }
}

export async function loadDataset(files: DataFile | readonly DataFile[], opts: LoadOptions = {}): Promise<LoadedDataset> {
  const list = Array.isArray(files) ? files : [files as DataFile];
  const out: LoadedDataset = { samples: [], files: [], issues: [], warnings: [] };
  for (const f of list) {
    const read = await readJsonl(f.source, f.name);
    // Nothing to keep: say why (empty, not text, not JSON...) rather than ask for a mapping.
    if (read.records.length === 0) throw explainNoRecords(read, f.name);
    out.issues.push(...read.issues);
    const detection = detectFormat(read.records.map((r) => r.value));
    if (detection.keys.length === 0) throw noFieldsError(f.name, read.records.length);
    const format = opts.format ?? (opts.columns ? 'columns' : detection.format);
    const formatError = () => new DatasetFormatError(f.name, detection.keys, read.records.slice(0, 3).map((r) => ({ line: r.line, keys: Object.keys(r.value) })), read.records.length);
    if (!format) throw formatError();
    const columns = opts.columns ?? (format === 'columns' ? detection.columns : undefined);
    // Format 'columns' chosen before its columns are: ask for them over the keys.
    if (format === 'columns' && !columns) throw formatError();
    let good = 0;
    let samples = 0;
    for (const rec of read.records) {
      const n = normalizeRecord(rec.value, { format, ...(columns ? { columns } : {}) });
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
      ...(format === 'columns' && columns ? { columns } : {}),
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
