import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonlParser, readJsonl } from '../../src/engine/data/jsonl';
import { DATA_DIR } from '../helpers/paths';

const enc = new TextEncoder();
const bytes = (...parts: (string | number[])[]) => {
  const arrays = parts.map((p) => (typeof p === 'string' ? enc.encode(p) : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return out;
};
const read = (src: string | Uint8Array | Uint8Array[]) => readJsonl(src, 'f.jsonl');
const lines = (r: Awaited<ReturnType<typeof read>>) => r.records.map((x) => x.line);

describe('JSONL reader', () => {
  it('reads records with 1-based line numbers', async () => {
    const r = await read('{"a":1}\n{"a":2}\n');
    expect(r.container).toBe('jsonl');
    expect(r.records).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 2, value: { a: 2 } },
    ]);
    expect(r.issues).toEqual([]);
    expect(r.lines).toBe(2);
  });

  it('skips a UTF-8 BOM', async () => {
    const r = await read(bytes([0xef, 0xbb, 0xbf], '{"a":1}\n{"a":2}\n'));
    expect(r.records.map((x) => x.value)).toEqual([{ a: 1 }, { a: 2 }]);
    expect(r.issues).toEqual([]);
  });

  it('handles CRLF line endings', async () => {
    const r = await read('{"a":"x"}\r\n{"a":"y"}\r\n');
    expect(r.records.map((x) => x.value.a)).toEqual(['x', 'y']);
    expect(r.issues).toEqual([]);
  });

  it('skips blank lines (not errors) and keeps line numbers right', async () => {
    const r = await read('\n{"a":1}\n\n   \n\t\r\n{"a":2}\n\n');
    expect(lines(r)).toEqual([2, 6]);
    expect(r.issues).toEqual([]);
    expect(r.blankLines).toBe(5);
  });

  it('reads a last line without a newline', async () => {
    const r = await read('{"a":1}\n{"a":2}');
    expect(lines(r)).toEqual([1, 2]);
  });

  it('reports a line of invalid UTF-8 and keeps the good lines around it', async () => {
    const r = await read(bytes('{"a":"ok"}\n{"a":"', [0xff, 0xfe], '"}\n{"a":"caf', [0xc3], '"}\n{"a":"é"}\n'));
    expect(r.records).toEqual([
      { line: 1, value: { a: 'ok' } },
      { line: 4, value: { a: 'é' } },
    ]);
    expect(r.issues).toEqual([
      { file: 'f.jsonl', line: 2, reason: 'invalid UTF-8' },
      { file: 'f.jsonl', line: 3, reason: 'invalid UTF-8' },
    ]);
  });

  it('reports a line that is not JSON with the parser reason', async () => {
    const r = await read('{"a":1}\n{"a":\n{"a":3}\n');
    expect(lines(r)).toEqual([1, 3]);
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]!.line).toBe(2);
    expect(r.issues[0]!.reason).toMatch(/^not valid JSON: .+/);
  });

  it.each([
    ['[1,2]', 'an array'],
    ['"str"', 'a string'],
    ['42', 'a number'],
    ['true', 'a boolean'],
    ['null', 'null'],
  ])('reports a JSON line that is not an object: %s', async (line, what) => {
    const r = await read(`{"a":1}\n${line}\n{"a":3}\n`);
    expect(lines(r)).toEqual([1, 3]);
    expect(r.issues).toEqual([{ file: 'f.jsonl', line: 2, reason: `expected a JSON object, got ${what}` }]);
  });

  it('reads a JSON array file, with the line each element starts on', async () => {
    const text = '\n  [\n  {"a": 1},\n  {"a": [1, {"b": "],"}],\n   "c": "x\\"y"},\n  {"a": 3}\n]\n';
    const r = await read(text);
    expect(r.container).toBe('json-array');
    expect(r.records).toEqual([
      { line: 3, value: { a: 1 } },
      { line: 4, value: { a: [1, { b: '],' }], c: 'x"y' } },
      { line: 6, value: { a: 3 } },
    ]);
    expect(r.issues).toEqual([]);
  });

  it('reports bad elements of a JSON array at their line and keeps the rest', async () => {
    const r = await read(bytes('[\n{"a":1},\n42,\n{"a": nope},\n{"a":"', [0xff], '"},\n{"a":5}\n]'));
    expect(r.records).toEqual([
      { line: 2, value: { a: 1 } },
      { line: 6, value: { a: 5 } },
    ]);
    expect(r.issues.map((i) => i.line)).toEqual([3, 4, 5]);
    expect(r.issues[0]!.reason).toBe('expected a JSON object, got a number');
    expect(r.issues[1]!.reason).toMatch(/^not valid JSON/);
    expect(r.issues[2]!.reason).toMatch(/^invalid UTF-8/);
  });

  it('reports an unclosed JSON array, keeping its complete elements', async () => {
    const r = await read('[{"a":1},\n{"a":2}\n');
    expect(r.records.map((x) => x.line)).toEqual([1, 2]);
    expect(r.issues).toEqual([{ file: 'f.jsonl', line: 2, reason: 'the JSON array is not closed (end of file before "]")' }]);
  });

  it('reports an unterminated string in a JSON array at its element', async () => {
    const r = await read('[{"a":1},\n{"a":"oops},\n{"a":3}]\n');
    expect(r.records.map((x) => x.line)).toEqual([1]);
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]!.line).toBe(2);
    expect(r.issues[0]!.reason).toMatch(/^not valid JSON: .*end of the file/);
  });

  it('reports content after a JSON array', async () => {
    const r = await read('[{"a":1}]\n{"a":2}\n');
    expect(r.records).toHaveLength(1);
    expect(r.issues).toEqual([{ file: 'f.jsonl', line: 2, reason: 'unexpected content after the end of the JSON array (ignored)' }]);
  });

  it('gives the same result however the input is chunked', async () => {
    const input = bytes(
      [0xef, 0xbb, 0xbf],
      '{"t":"héllo ☃ 😀"}\r\n\n{"t":"bad ',
      [0xe2, 0x98],
      '"}\nnot json\n[1]\n{"t":"日本語"}',
    );
    const whole = await read(input);
    expect(whole.records.map((r) => r.value.t)).toEqual(['héllo ☃ 😀', '日本語']);
    expect(whole.issues.map((i) => i.line)).toEqual([3, 4, 5]);
    // Every split point in two (mid-line, mid-character, inside the BOM and the CRLF) ...
    for (let cut = 0; cut <= input.length; cut++) {
      const r = await read([input.slice(0, cut), input.slice(cut)]);
      expect(r, `cut at ${cut}`).toEqual(whole);
    }
    // ... one byte at a time, and through a ReadableStream of 3-byte chunks.
    expect(await read(Array.from(input, (b) => Uint8Array.of(b)))).toEqual(whole);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < input.length; i += 3) c.enqueue(input.slice(i, i + 3));
        c.close();
      },
    });
    expect(await readJsonl(stream, 'f.jsonl')).toEqual(whole);
    expect(await readJsonl(new Blob([input]), 'f.jsonl')).toEqual(whole);
  });

  it('gives the same JSON array result however it is chunked', async () => {
    const input = readFileSync(join(DATA_DIR, 'alpaca-102/alpaca_data_102.json'));
    const whole = await read(new Uint8Array(input));
    for (const size of [1, 7, 64, 1000]) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < input.length; i += size) chunks.push(new Uint8Array(input.subarray(i, i + size)));
      expect(await read(chunks)).toEqual(whole);
    }
  });

  it('streams records as lines complete', () => {
    const p = new JsonlParser();
    expect(p.push('{"a":1}\n{"a"')).toEqual([{ type: 'record', line: 1, value: { a: 1 } }]);
    expect(p.push(':2}\n')).toEqual([{ type: 'record', line: 2, value: { a: 2 } }]);
    expect(p.end()).toEqual([]);
  });

  it('treats an empty file as an empty JSONL file', async () => {
    const r = await read('');
    expect(r).toMatchObject({ container: 'jsonl', records: [], issues: [], lines: 0 });
  });

  it('reads the real files', async () => {
    const si = await readJsonl(new Uint8Array(readFileSync(join(DATA_DIR, 'story-instruct/train.jsonl'))), 'train.jsonl');
    expect(si.records).toHaveLength(600);
    expect(si.issues).toEqual([]);
    const al = await readJsonl(new Uint8Array(readFileSync(join(DATA_DIR, 'alpaca-102/alpaca_data_102.json'))), 'a.json');
    expect(al.container).toBe('json-array');
    expect(al.records).toHaveLength(102);
    expect(al.records[0]!.line).toBe(2);
    expect(al.issues).toEqual([]);
  });
});
