// A JSON array file (e.g. the original alpaca_data.json). Instead of one JSON.parse of the
// whole text, the top-level elements are located by a small scanner and parsed one by one:
// a broken element is then reported at its own line and the others are still kept.
import { parseRecord, type JsonlEvent } from './json-record';

export interface DecodedLine {
  text: string;
  /** The line's bytes were not valid UTF-8; `text` holds a lenient decoding. */
  badUtf8: boolean;
}

/** `lines` are the file's lines from `firstLine` (1-based) on, the first holding the '['. */
export function parseJsonArrayLines(lines: DecodedLine[], firstLine = 1): JsonlEvent[] {
  const text = lines.map((l) => l.text).join('\n');
  const starts: number[] = [];
  let offset = 0;
  for (const l of lines) {
    starts.push(offset);
    offset += l.text.length + 1;
  }
  const lineAt = (pos: number) => upperBound(starts, pos) + firstLine - 1;
  const out: JsonlEvent[] = [];
  const n = text.length;

  let i = skipSpace(text, 0);
  if (text[i] !== '[') throw new Error('parseJsonArrayLines: text does not start with "["');
  i++;
  for (;;) {
    i = skipSpace(text, i);
    if (i >= n) {
      out.push({ type: 'issue', line: lineAt(Math.max(0, n - 1)), reason: 'the JSON array is not closed (end of file before "]")' });
      return out;
    }
    if (text[i] === ']') {
      i++;
      break;
    }
    if (text[i] === ',') {
      out.push({ type: 'issue', line: lineAt(i), reason: 'not valid JSON: empty array element' });
      i++;
      continue;
    }
    const start = i;
    const stop = scanValue(text, i);
    const first = lineAt(start);
    const last = lineAt(Math.max(start, stop - 1));
    let bad = 0;
    for (let l = first; l <= last && !bad; l++) if (lines[l - firstLine]!.badUtf8) bad = l;
    if (bad) {
      out.push({ type: 'issue', line: bad, reason: `invalid UTF-8 (in the array element starting on line ${first})` });
    } else if (stop >= n) {
      const ev = parseRecord(text.slice(start), first);
      if (ev.type === 'record') {
        out.push(ev, { type: 'issue', line: lineAt(n - 1), reason: 'the JSON array is not closed (end of file before "]")' });
      } else {
        out.push({ ...ev, reason: `${ev.reason} (reached the end of the file: a string or bracket left open?)` });
      }
    } else {
      out.push(parseRecord(text.slice(start, stop), first));
    }
    if (stop >= n) return out;
    i = stop + 1;
    if (text[stop] === ']') break;
  }
  const rest = skipSpace(text, i);
  if (rest < n) out.push({ type: 'issue', line: lineAt(rest), reason: 'unexpected content after the end of the JSON array (ignored)' });
  return out;
}

/** Index of the ',' or ']' that ends the value starting at `i` (n when the text runs out). */
function scanValue(text: string, i: number): number {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (depth === 0) return i;
      depth--;
    } else if (c === ',' && depth === 0) return i;
  }
  return text.length;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && /\s/.test(text[i]!)) i++;
  return i;
}

/** Number of entries <= x in a sorted array: the 1-based line holding offset x. */
function upperBound(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
