// Streaming JSON-lines reader (a JSON array file is accepted too, detected by its first
// non-space character being '['). Bytes are split at '\n' before decoding so that every line
// is decoded on its own with a fatal decoder: invalid UTF-8 is then reported for exactly the
// line that has it, and chunk boundaries (mid-line, mid-character) cannot change the result.
// Every line that is not a record is reported, counted and skipped; blank lines are skipped.
import { parseJsonArrayLines, type DecodedLine } from './json-array';
import { parseRecord, type JsonRecord, type JsonlEvent } from './json-record';
import { chunksOf, type DataChunk, type DataSource } from './source';
import type { DataIssue } from './types';

export type { JsonObject, JsonRecord, JsonlEvent } from './json-record';

export type Container = 'jsonl' | 'json-array';

export interface JsonlResult {
  file: string;
  container: Container;
  records: JsonRecord[];
  issues: DataIssue[];
  lines: number;
  blankLines: number;
  /** Size of the input in bytes (strings counted as UTF-8). */
  bytes: number;
  /** Its first bytes, to tell a binary file from text when it holds no record. */
  head: Uint8Array;
  /** Its first non-blank lines (cut to 120 characters), to show what the file holds. */
  firstLines: TextLine[];
}

export interface TextLine {
  line: number;
  text: string;
}

/** How much of the input's start is kept for sniffing, and how many of its lines. */
export const HEAD_BYTES = 4096;
const FIRST_LINES = 5;
const FIRST_LINE_CHARS = 120;

const NEWLINE = 0x0a;
const CR = 0x0d;
const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder('utf-8', { ignoreBOM: true });
const encoder = new TextEncoder();

/** Push parser: feed chunks, collect events; call end() once after the last chunk. */
export class JsonlParser {
  /** Decided at the first non-blank line; null until then. */
  container: Container | null = null;
  lines = 0;
  blankLines = 0;
  bytes = 0;
  readonly firstLines: TextLine[] = [];
  private headParts: Uint8Array[] = [];
  private headBytes = 0;
  private pending: Uint8Array[] = [];
  private arrayLines: DecodedLine[] = [];
  private arrayFirstLine = 1;
  private ended = false;

  push(chunk: DataChunk): JsonlEvent[] {
    if (this.ended) throw new Error('JsonlParser: push after end');
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    this.bytes += bytes.length;
    if (this.headBytes < HEAD_BYTES && bytes.length > 0) {
      const part = bytes.slice(0, HEAD_BYTES - this.headBytes);
      this.headParts.push(part);
      this.headBytes += part.length;
    }
    const out: JsonlEvent[] = [];
    let pos = 0;
    for (;;) {
      const nl = bytes.indexOf(NEWLINE, pos);
      if (nl < 0) break;
      this.pending.push(bytes.subarray(pos, nl));
      this.takeLine(concat(this.pending), out);
      this.pending = [];
      pos = nl + 1;
    }
    // Copied: the caller (a stream) may reuse its buffer after we return.
    if (pos < bytes.length) this.pending.push(bytes.slice(pos));
    return out;
  }

  /** The input's first HEAD_BYTES bytes (fewer if it is shorter). */
  get head(): Uint8Array {
    return concat(this.headParts.length ? this.headParts : [new Uint8Array(0)]);
  }

  end(): JsonlEvent[] {
    if (this.ended) return [];
    const out: JsonlEvent[] = [];
    // A last line without a newline is still a line.
    if (this.pending.length > 0) this.takeLine(concat(this.pending), out);
    this.pending = [];
    this.ended = true;
    if (this.container === 'json-array') out.push(...parseJsonArrayLines(this.arrayLines, this.arrayFirstLine));
    this.arrayLines = [];
    this.container ??= 'jsonl';
    return out;
  }

  private takeLine(raw: Uint8Array, out: JsonlEvent[]): void {
    const line = ++this.lines;
    let bytes = raw;
    // A BOM starts the file; one at the start of a later line is what concatenating such files gives.
    if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    let text: string;
    let badUtf8 = false;
    try {
      text = fatal.decode(bytes);
    } catch {
      text = lenient.decode(bytes);
      badUtf8 = true;
    }
    if (this.firstLines.length < FIRST_LINES && text.trim() !== '') {
      this.firstLines.push({ line, text: text.length > FIRST_LINE_CHARS ? `${text.slice(0, FIRST_LINE_CHARS)}…` : text });
    }
    if (this.container === null) {
      const first = text.trimStart();
      if (first === '') {
        this.blankLines++;
        return;
      }
      this.container = first.startsWith('[') ? 'json-array' : 'jsonl';
      this.arrayFirstLine = line;
    }
    if (this.container === 'json-array') {
      this.arrayLines.push({ text, badUtf8 });
      return;
    }
    if (badUtf8) {
      out.push({ type: 'issue', line, reason: 'invalid UTF-8' });
      return;
    }
    if (text.trim() === '') {
      this.blankLines++;
      return;
    }
    out.push(parseRecord(text, line));
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Streams events as the input arrives (a JSON array's records all come at the end). */
export async function* iterateJsonl(source: DataSource, parser = new JsonlParser()): AsyncGenerator<JsonlEvent> {
  for await (const chunk of chunksOf(source)) yield* parser.push(chunk);
  yield* parser.end();
}

/** Reads a whole file into records and issues. */
export async function readJsonl(source: DataSource, file: string): Promise<JsonlResult> {
  const parser = new JsonlParser();
  const records: JsonRecord[] = [];
  const issues: DataIssue[] = [];
  for await (const ev of iterateJsonl(source, parser)) {
    if (ev.type === 'record') records.push({ line: ev.line, value: ev.value });
    else issues.push({ file, line: ev.line, reason: ev.reason });
  }
  return {
    file,
    container: parser.container ?? 'jsonl',
    records,
    issues,
    lines: parser.lines,
    blankLines: parser.blankLines,
    bytes: parser.bytes,
    head: parser.head,
    firstLines: parser.firstLines,
  };
}
