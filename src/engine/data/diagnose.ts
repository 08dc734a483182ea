// Why a file gave no record at all, in words that say what to do: empty, not text (a known
// file type, UTF-16, binary bytes, not UTF-8), CSV, plain prose, one JSON object spread over
// several lines, an empty JSON array, or lines that are not JSON (the first ones listed). Only
// asked when nothing could be read: a file with good records keeps them and lists its bad
// lines instead.
import type { JsonlResult, TextLine } from './jsonl';
import type { DataIssue } from './types';

export type DatasetProblem =
  | 'empty'
  | 'binary'
  | 'not-utf8'
  | 'csv'
  | 'prose'
  | 'multi-line-json'
  | 'empty-array'
  | 'not-json'
  | 'no-fields';

/** A file that holds no usable record; `what` says what is wrong, `hint` what to do. */
export class DatasetFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: DatasetProblem,
    readonly what: string,
    readonly hint: string,
    /** The first bad lines, for 'not-json'. */
    readonly lines: readonly DataIssue[] = [],
  ) {
    super(`${what} ${hint}`);
    this.name = 'DatasetFileError';
  }
}

const RECORD = '{"instruction": "…", "output": "…"}';
const JSONL = `JSON Lines: one JSON object per line, e.g. ${RECORD}`;
const READS = `WebLoRA reads a dataset as UTF-8 text in ${JSONL}, or a JSON array of such objects.`;
const SAVE_UTF8 = 'Save it as UTF-8 (in most editors: Save as → Encoding → UTF-8) and choose it again.';

/** Known file types by their first bytes; the ones a dataset often comes as say how to convert. */
const SIGNATURES: { name: string; magic: string | number[]; convert?: string }[] = [
  { name: 'a PNG image', magic: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { name: 'a JPEG image', magic: [0xff, 0xd8, 0xff] },
  { name: 'a GIF image', magic: 'GIF8' },
  { name: 'a PDF document', magic: '%PDF-' },
  { name: 'a ZIP archive (or an .xlsx / .docx document)', magic: 'PK\x03\x04' },
  { name: 'a gzip-compressed file', magic: [0x1f, 0x8b], convert: 'Decompress it first (gunzip).' },
  { name: 'a Parquet file', magic: 'PAR1', convert: 'Convert it to JSON Lines first, e.g. in Python: pandas.read_parquet("FILE").to_json("data.jsonl", orient="records", lines=True).' },
  { name: 'a SQLite database', magic: 'SQLite format 3\0' },
];

/** Why `read` (a file with no record) gave nothing; always an error to throw. */
export function explainNoRecords(read: JsonlResult, file: string): DatasetFileError {
  const err = (problem: DatasetProblem, what: string, hint: string, lines: DataIssue[] = []) =>
    new DatasetFileError(file, problem, what, hint, lines);
  const emptyHint = `Choose the file that holds your training data, in ${JSONL}.`;
  if (read.bytes === 0) return err('empty', `${file} is empty (0 bytes).`, emptyHint);

  const text = notText(read.head);
  if (text?.kind === 'signature') {
    return err('binary', `${file} looks like ${text.name}, not a text file.`, text.convert?.replace('FILE', file) ?? READS);
  }
  if (text?.kind === 'utf16') return err('not-utf8', `${file} is UTF-16 text; WebLoRA reads UTF-8.`, SAVE_UTF8);
  if (text?.kind === 'binary') return err('binary', `${file} is not a text file: ${text.why}.`, READS);

  if (read.lines === read.blankLines) {
    return err('empty', `${file} holds only whitespace (${plural(read.lines, 'blank line')}), no records.`, emptyHint);
  }
  const badUtf8 = read.issues.filter((i) => i.reason.startsWith('invalid UTF-8'));
  if (badUtf8.length > 0 && badUtf8.length === read.issues.length) {
    return err(
      'not-utf8',
      `${file} is not UTF-8 text: ${badUtf8.length === 1 ? `line ${badUtf8[0]!.line} is` : `${badUtf8.length} lines (the first on line ${badUtf8[0]!.line}) are`} not valid UTF-8 (Latin-1 or Windows-1252, perhaps).`,
      SAVE_UTF8,
    );
  }

  if (read.container === 'json-array') {
    if (read.issues.length === 0) return err('empty-array', `${file} is an empty JSON array: it holds no records.`, emptyHint);
    return err(
      'not-json',
      `No element of the JSON array in ${file} is a record (${plural(read.issues.length, 'bad element')}): ${listIssues(read)}.`,
      `Each element must be a JSON object, e.g. [${RECORD}, …]; fix the elements listed.`,
      read.issues.slice(0, LISTED),
    );
  }

  const first = read.firstLines[0]!;
  const ext = /\.([^./\\]+)$/.exec(file)?.[1]?.toLowerCase();
  if (ext === 'csv' || ext === 'tsv') {
    return err(
      'csv',
      `${file} is ${ext.toUpperCase()}, not JSON records (line ${first.line}: ${quote(first)}).`,
      `Convert it to JSON Lines, e.g. in Python: pandas.read_csv("${file}"${ext === 'tsv' ? ', sep="\\t"' : ''}).to_json("data.jsonl", orient="records", lines=True); its columns become the records' keys.`,
    );
  }
  const opener = first.text.trim();
  if (opener.startsWith('{') && !opener.endsWith('}')) {
    return err(
      'multi-line-json',
      `${file} holds JSON spread over several lines (line ${first.line}: ${quote(first)}), not one record per line.`,
      `Write one JSON object per line (JSON Lines), or a JSON array of objects: [${RECORD}, …].`,
    );
  }
  if (read.firstLines.every((l) => !/^\s*[{["]/.test(l.text))) {
    return err(
      'prose',
      `${file} is plain text, not JSON records (line ${first.line}: ${quote(first)}).`,
      `WebLoRA reads JSON Lines, one JSON object per line: {"text": "…"} to train on plain text, or ${RECORD} for instructions and answers. ` +
        `Here, put each passage on a line of its own as ${JSON.stringify({ text: excerpt(first.text, 40) })}.`,
    );
  }
  return err(
    'not-json',
    `No line of ${file} is a JSON record (${plural(read.issues.length, 'bad line')}): ${listIssues(read)}.`,
    `Each line must be one JSON object, e.g. ${RECORD}; fix the lines listed.`,
    read.issues.slice(0, LISTED),
  );
}

/** Records that parsed but have no field at all ({}): nothing to train on, nothing to map. */
export function noFieldsError(file: string, records: number): DatasetFileError {
  return new DatasetFileError(
    file,
    'no-fields',
    `The ${plural(records, 'record')} in ${file} ${records === 1 ? 'has' : 'have'} no fields ({}).`,
    `Each record needs the text to train on, e.g. ${RECORD}.`,
  );
}

const LISTED = 3;

/** 'line 1 "{a: 1}": not valid JSON: …; line 2 …': the first few, each with its start. */
function listIssues({ issues, firstLines }: JsonlResult): string {
  const shown = issues.slice(0, LISTED).map((i) => {
    const text = firstLines.find((l) => l.line === i.line);
    return `line ${i.line}${text ? ` ${quote(text)}` : ''}: ${i.reason}`;
  });
  const more = issues.length - shown.length;
  return shown.join('; ') + (more > 0 ? ` (and ${more} more)` : '');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The start of a line, cut at a word boundary when there is one. */
function excerpt(text: string, chars: number): string {
  const t = text.trim();
  if (t.length <= chars) return t;
  const cut = t.slice(0, chars + 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > chars / 2 ? cut.slice(0, space) : cut.slice(0, chars)).trimEnd()}…`;
}

function quote(l: TextLine): string {
  return `"${excerpt(l.text, 60)}"`;
}

type NotText =
  | { kind: 'signature'; name: string; convert?: string }
  | { kind: 'utf16' }
  | { kind: 'binary'; why: string };

const REPLACEMENT = [0xef, 0xbf, 0xbd];

/**
 * Whether a file's first bytes are not text. The app reads a dropped file with File.text(),
 * which turns each byte that is not UTF-8 into U+FFFD (EF BF BD): every check here accepts
 * that spelling too.
 */
export function notText(head: Uint8Array): NotText | null {
  for (const s of SIGNATURES) {
    if (startsWith(head, s.magic)) return { kind: 'signature', name: s.name, ...(s.convert ? { convert: s.convert } : {}) };
  }
  const nul = head.indexOf(0);
  if (nul >= 0) {
    if (looksUtf16(head)) return { kind: 'utf16' };
    return { kind: 'binary', why: `it holds binary data (a NUL byte at byte ${nul + 1})` };
  }
  // Control characters and undecodable bytes: a few are typos, this many are not text.
  const chars = new TextDecoder('utf-8').decode(head);
  let odd = 0;
  for (const c of chars) if (c === '\ufffd' || /[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]/.test(c)) odd++;
  if (chars.length > 0 && odd / chars.length > 0.1) return { kind: 'binary', why: `${Math.round((100 * odd) / chars.length)}% of its first bytes are not text` };
  return null;
}

/** Matches `magic`, where a byte >= 0x80 may also appear as U+FFFD (see notText). */
function startsWith(head: Uint8Array, magic: string | number[]): boolean {
  const bytes = typeof magic === 'string' ? [...magic].map((c) => c.charCodeAt(0)) : magic;
  let p = 0;
  for (const b of bytes) {
    if (head[p] === b) p++;
    else if (b >= 0x80 && REPLACEMENT.every((r, k) => head[p + k] === r)) p += 3;
    else return false;
  }
  return true;
}

/** ASCII-range UTF-16: NUL in most odd (LE) or most even (BE) positions, almost none in the others. */
function looksUtf16(head: Uint8Array): boolean {
  // A UTF-16 BOM (FF FE / FE FF) arrives as two U+FFFD when the app read the file as UTF-8.
  let start = 0;
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) start = 2;
  else if (REPLACEMENT.every((r, k) => head[k] === r && head[k + 3] === r)) start = 6;
  const zeros = [0, 0];
  const n = head.length - start;
  if (n < 4) return false;
  for (let i = start; i < head.length; i++) if (head[i] === 0) zeros[(i - start) % 2]!++;
  const half = n / 2;
  const [even, odd] = zeros as [number, number];
  return (odd > 0.4 * half && even < 0.05 * half) || (even > 0.4 * half && odd < 0.05 * half);
}
