// Files that hold no training record each get their own message, naming the file (and the
// lines where that applies) and saying what to do — read as bytes (the CLI) and as the text
// File.text() gives (the app). Common key pairs map on their own; every real dataset in
// ../shared/data loads in its right format. The worker turns each into the failure the UI shows,
// and a model loaded from disk is never told to check the hub (nor a hub load to choose a folder).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetFileError, type DatasetProblem } from '../../src/engine/data/diagnose';
import { COMMON_COLUMNS, detectFormat } from '../../src/engine/data/formats';
import { DatasetFormatError, loadDataset } from '../../src/engine/data/load';
import { summarizeReport } from '../../src/engine/data/report';
import { httpError } from '../../src/engine/model/source/hub-errors';
import { hubLocation } from '../../src/engine/model/source/hub-location';
import { loadModelFromFiles } from '../../src/engine/model/source/source-files';
import { loadModelFromFolder } from '../../src/engine/model/source/source-folder';
import { SafetensorsError } from '../../src/engine/model/safetensors';
import { toFailure } from '../../src/worker/failures';
import { DATA_DIR } from '../helpers/paths';

const bytesOf = (...parts: (string | number[])[]) => new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p as string))));

/** A small but real PNG: signature, IHDR, IDAT, IEND (CRCs not checked by anyone here). */
const PNG = bytesOf(
  [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  [0, 0, 0, 13], 'IHDR', [0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0], [0x1f, 0x15, 0xc4, 0x89],
  [0, 0, 0, 10], 'IDAT', [0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1], [0x0d, 0x0a, 0x2d, 0xb4],
  [0, 0, 0, 0], 'IEND', [0xae, 0x42, 0x60, 0x82],
);
/** Deterministic noise with NULs, as any binary file has. */
const BINARY = Uint8Array.from({ length: 2048 }, (_, i) => (i * 2654435761) >>> 24);
const PROSE =
  'Once upon a time there was a little fox who lived at the edge of a wood.\n' +
  'Every morning she ran to the river to drink, and every evening she came home.\n\n' +
  'One day the river was gone.\n';
const NOT_JSON = "{instruction: 'Add 2 and 2', output: '4'}\n{'instruction': 'Say hi', 'output': 'hi'}\n{\"instruction\": \"cut off\n[1, 2\n";
const UTF16 = Uint8Array.from([0xff, 0xfe, ...[...'{"text": "hello"}\n'].flatMap((c) => [c.charCodeAt(0), 0])]);
const LATIN1 = Uint8Array.from([...'{"text": "caf'].map((c) => c.charCodeAt(0)).concat([0xe9, 0x22, 0x7d, 0x0a]));

interface Case {
  name: string;
  file: string;
  bytes: Uint8Array;
  problem: DatasetProblem;
  /** The message (what happened), as the app and the CLI show it. */
  what: RegExp;
  /** What to do. */
  hint: RegExp;
}

const CASES: Case[] = [
  { name: 'empty (0 bytes)', file: 'empty.jsonl', bytes: bytesOf(), problem: 'empty', what: /^empty\.jsonl is empty \(0 bytes\)\.$/, hint: /JSON Lines: one JSON object per line, e\.g\. \{"instruction"/ },
  { name: 'only whitespace', file: 'blank.jsonl', bytes: bytesOf('\n  \n\t\r\n'), problem: 'empty', what: /^blank\.jsonl holds only whitespace \(3 blank lines\), no records\.$/, hint: /JSON Lines/ },
  { name: 'binary bytes', file: 'noise.jsonl', bytes: BINARY, problem: 'binary', what: /^noise\.jsonl is not a text file: /, hint: /reads a dataset as UTF-8 text in JSON Lines/ },
  { name: 'a PNG renamed .jsonl', file: 'cat.jsonl', bytes: PNG, problem: 'binary', what: /^cat\.jsonl looks like a PNG image, not a text file\.$/, hint: /UTF-8 text in JSON Lines/ },
  { name: 'a Parquet file', file: 'train.parquet', bytes: bytesOf('PAR1', [0, 0, 1, 2, 3]), problem: 'binary', what: /^train\.parquet looks like a Parquet file/, hint: /pandas\.read_parquet\("train\.parquet"\)\.to_json\("data\.jsonl", orient="records", lines=True\)/ },
  { name: 'UTF-16', file: 'notepad.jsonl', bytes: UTF16, problem: 'not-utf8', what: /^notepad\.jsonl is UTF-16 text; WebLoRA reads UTF-8\.$/, hint: /Save it as UTF-8/ },
  {
    name: 'no line is JSON',
    file: 'broken.jsonl',
    bytes: bytesOf(NOT_JSON),
    problem: 'not-json',
    what: /^No line of broken\.jsonl is a JSON record \(4 bad lines\): line 1 "\{instruction: 'Add 2 and 2', output: '4'\}": not valid JSON: .+; line 2 "\{'instruction': 'Say hi', 'output': 'hi'\}": not valid JSON: .+; line 3 "\{"instruction": "cut off": not valid JSON: .+ \(and 1 more\)\.$/,
    hint: /^Each line must be one JSON object, e\.g\. \{"instruction": "…", "output": "…"\}; fix the lines listed\.$/,
  },
  {
    name: 'a .txt of prose',
    file: 'story.txt',
    bytes: bytesOf(PROSE),
    problem: 'prose',
    what: /^story\.txt is plain text, not JSON records \(line 1: "Once upon a time there was a little fox who lived at the…"\)\.$/,
    hint: /^WebLoRA reads JSON Lines, one JSON object per line: \{"text": "…"\} to train on plain text, or \{"instruction": "…", "output": "…"\} for instructions and answers\. Here, put each passage on a line of its own as \{"text":"Once upon a time there was a little fox…"\}\.$/,
  },
  { name: 'CSV', file: 'qa.csv', bytes: bytesOf('question,answer\n"What is 2+2?",4\n'), problem: 'csv', what: /^qa\.csv is CSV, not JSON records \(line 1: "question,answer"\)\.$/, hint: /pandas\.read_csv\("qa\.csv"\)/ },
  {
    name: 'one pretty-printed JSON object',
    file: 'data.json',
    bytes: bytesOf('{\n  "instruction": "Say hi",\n  "output": "hi"\n}\n'),
    problem: 'multi-line-json',
    what: /^data\.json holds JSON spread over several lines \(line 1: "\{"\), not one record per line\.$/,
    hint: /JSON array of objects/,
  },
  { name: 'an empty JSON array', file: 'none.json', bytes: bytesOf(' [ ]\n'), problem: 'empty-array', what: /^none\.json is an empty JSON array: it holds no records\.$/, hint: /JSON Lines/ },
  {
    name: 'a JSON array of numbers',
    file: 'nums.json',
    bytes: bytesOf('[\n1,\n2\n]\n'),
    problem: 'not-json',
    what: /^No element of the JSON array in nums\.json is a record \(2 bad elements\): line 2 "1,": expected a JSON object, got a number; line 3 "2": expected a JSON object, got a number\.$/,
    hint: /Each element must be a JSON object/,
  },
  { name: 'records without fields', file: 'blank-records.jsonl', bytes: bytesOf('{}\n{}\n'), problem: 'no-fields', what: /^The 2 records in blank-records\.jsonl have no fields \(\{\}\)\.$/, hint: /Each record needs the text to train on/ },
];

async function failure(file: string, source: Uint8Array | string): Promise<DatasetFileError> {
  const err = await loadDataset({ name: file, source }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DatasetFileError);
  return err as DatasetFileError;
}

describe('a file with no record says why, and what to do', () => {
  for (const c of CASES) {
    it(`${c.name}: read as bytes (the CLI) and as File.text() gives it (the app)`, async () => {
      // File.text() decodes as UTF-8 with U+FFFD for every byte that is not.
      for (const source of [c.bytes, new TextDecoder().decode(c.bytes)]) {
        const e = await failure(c.file, source);
        expect(e.problem).toBe(c.problem);
        expect(e.file).toBe(c.file);
        expect(e.what).toMatch(c.what);
        expect(e.hint).toMatch(c.hint);
        expect(e.message).toBe(`${e.what} ${e.hint}`);
        // The app's failure: the same words, as a dataset problem (no column mapper).
        expect(toFailure(e)).toEqual({ kind: 'dataset', message: e.what, hint: e.hint });
      }
    });
  }

  it('each case has its own message, and none asks for a column mapping', async () => {
    const messages = new Set<string>();
    for (const c of CASES) {
      const e = await failure('same.jsonl', c.bytes);
      expect(e.message).not.toMatch(/column mapping|could not detect the dataset format/);
      messages.add(e.what);
    }
    expect(messages.size).toBe(CASES.length);
  });

  it('lines that are not valid UTF-8 (read as bytes): the file is not UTF-8, with the first line named', async () => {
    const e = await failure('cafe.jsonl', bytesOf([...LATIN1, ...LATIN1]));
    expect(e.problem).toBe('not-utf8');
    expect(e.what).toBe('cafe.jsonl is not UTF-8 text: 2 lines (the first on line 1) are not valid UTF-8 (Latin-1 or Windows-1252, perhaps).');
  });

  it('lists the first bad lines with their numbers on the error itself', async () => {
    const e = await failure('broken.jsonl', NOT_JSON);
    expect(e.lines.map((l) => l.line)).toEqual([1, 2, 3]);
    expect(e.lines.every((l) => l.file === 'broken.jsonl' && l.reason.startsWith('not valid JSON'))).toBe(true);
  });

  it('a file with good records keeps them, however many bad lines or odd bytes it has', async () => {
    const text = `${PROSE}{"question": "What is 2+2?", "answer": "4"}\n\u0000\u0001garbage\n`;
    const d = await loadDataset({ name: 'mixed.jsonl', source: text });
    expect(d.files[0]).toMatchObject({ format: 'columns', records: 5, good: 1, bad: 4 });
    expect(d.issues.map((i) => i.line)).toEqual([1, 2, 4, 6]);
    expect(d.samples).toHaveLength(1);
  });
});

describe('common key pairs map on their own', () => {
  const pairs: [string, Record<string, string>, { prompt: string; response: string; input?: string; system?: string }, string, string?][] = [
    ['question / answer', { question: 'What is 2+2?', answer: '4' }, { prompt: 'question', response: 'answer' }, 'What is 2+2?'],
    ['prompt / response', { prompt: 'Say hi', response: 'hi' }, { prompt: 'prompt', response: 'response' }, 'Say hi'],
    ['input / target', { input: 'Translate: chat', target: 'cat' }, { prompt: 'input', response: 'target' }, 'Translate: chat'],
    ['input / output', { input: 'Reverse: abc', output: 'cba' }, { prompt: 'input', response: 'output' }, 'Reverse: abc'],
    ['query / response', { query: 'Capital of France?', response: 'Paris' }, { prompt: 'query', response: 'response' }, 'Capital of France?'],
    ['context / response', { context: 'Hello there', response: 'General Kenobi' }, { prompt: 'context', response: 'response' }, 'Hello there'],
    ['Dolly: instruction + context / response', { instruction: 'Summarise.', context: 'A long text.', response: 'Short.' }, { prompt: 'instruction', response: 'response', input: 'context' }, 'Summarise.', 'A long text.'],
    ['question / answer with a system column', { system: 'Be terse.', question: 'Q?', answer: 'A.' }, { prompt: 'question', response: 'answer', system: 'system' }, 'Q?'],
  ];
  for (const [name, rec, columns, prompt, input] of pairs) {
    it(name, async () => {
      const d = await loadDataset({ name: 'pairs.jsonl', source: `${JSON.stringify(rec)}\n${JSON.stringify(rec)}\n` });
      expect(d.files[0]).toMatchObject({ format: 'columns', detected: true, columns, good: 2, bad: 0 });
      const s = d.samples[0]!.sample;
      expect(s.kind).toBe('conversation');
      if (s.kind !== 'conversation') return;
      expect(s.conversation.turns[0]).toEqual({ role: 'user', content: prompt, ...(input ? { input } : {}) });
      expect(s.conversation.turns[1]!.role).toBe('assistant');
      if (columns.system) expect(s.conversation.system).toBe('Be terse.');
    });
  }

  it('instruction / output without "input" is Alpaca; prompt / completion keeps its own format', async () => {
    const alpaca = await loadDataset({ name: 'a.jsonl', source: '{"instruction": "Say hi", "output": "hi"}\n' });
    expect(alpaca.files[0]).toMatchObject({ format: 'alpaca', good: 1 });
    expect(alpaca.files[0]!.columns).toBeUndefined();
    const pc = await loadDataset({ name: 'pc.jsonl', source: '{"prompt": "Say hi", "completion": "hi", "response": "x"}\n' });
    expect(pc.files[0]).toMatchObject({ format: 'prompt-completion', good: 1 });
  });

  it('the pair most records have wins; the earlier pair breaks a tie', () => {
    const d = detectFormat([{ query: 'q', response: 'r' }, { query: 'q', response: 'r' }, { question: 'q', answer: 'a' }]);
    expect(d).toMatchObject({ format: 'columns', columns: { prompt: 'query', response: 'response' }, votes: { columns: 2 } });
    const tie = detectFormat([{ prompt: 'p', response: 'r' }, { question: 'q', answer: 'a' }]);
    expect(tie.columns).toEqual({ prompt: 'question', response: 'answer' });
    expect(COMMON_COLUMNS[0]).toEqual({ prompt: 'question', response: 'answer' });
  });

  it('the mapping is named in the report the CLI prints', async () => {
    const { prepareDataset } = await import('../../src/engine/data/pipeline');
    const { loadStoriesTokenizer } = await import('../helpers/stories-tokenizer');
    const tok = await loadStoriesTokenizer();
    const p = await prepareDataset({ name: 'qa.jsonl', source: '{"question": "What is 2+2?", "answer": "4"}\n' }, tok, { maxLength: 64 });
    expect(summarizeReport(p.report).split('\n')[0]).toBe('qa.jsonl: jsonl, format columns question → answer (detected), 1/1 records good');
  });

  it('format "columns" chosen before its columns: the detected pair, else a mapping is asked for', async () => {
    const d = await loadDataset({ name: 'qa.jsonl', source: '{"question": "q", "answer": "a"}\n' }, { format: 'columns' });
    expect(d.files[0]).toMatchObject({ format: 'columns', detected: false, columns: { prompt: 'question', response: 'answer' } });
    const err = await loadDataset({ name: 'ps.jsonl', source: '{"problem": "p", "solution": "s"}\n' }, { format: 'columns' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetFormatError);
    expect(toFailure(err)).toMatchObject({ kind: 'dataset-format', keys: ['problem', 'solution'] });
  });
});

describe('every dataset in ../shared/data loads in its right format', () => {
  const expected: Record<string, { format: string; container: string; columns?: object }> = {
    'alpaca-102/alpaca_data_102.json': { format: 'alpaca', container: 'json-array' },
    'gsm8k/train.jsonl': { format: 'columns', container: 'jsonl', columns: { prompt: 'question', response: 'answer' } },
    'gsm8k/test.jsonl': { format: 'columns', container: 'jsonl', columns: { prompt: 'question', response: 'answer' } },
    'self-instruct/seed_tasks.jsonl': { format: 'self-instruct', container: 'jsonl' },
    'self-instruct/user_oriented_instructions.jsonl': { format: 'self-instruct', container: 'jsonl' },
    'story-instruct/train.jsonl': { format: 'alpaca', container: 'jsonl' },
  };
  const present = readdirSync(DATA_DIR).flatMap((dir) =>
    readdirSync(join(DATA_DIR, dir))
      .filter((f) => /\.jsonl?$/.test(f))
      .map((f) => `${dir}/${f}`),
  );

  it('the list below covers every file there', () => {
    expect(present.sort()).toEqual(Object.keys(expected).sort());
  });

  for (const [rel, want] of Object.entries(expected)) {
    it(rel, async () => {
      const d = await loadDataset({ name: rel, source: new Uint8Array(readFileSync(join(DATA_DIR, rel))) });
      expect(d.files[0]).toMatchObject({ ...want, detected: true, bad: 0 });
      expect(d.issues).toEqual([]);
    });
  }
});

describe('model-source failures say what to do for where the model came from', () => {
  const hubWords = /hub|repo id|revision/i;
  const folderWords = /folder/i;

  it('a folder on disk: the folder, never the hub', async () => {
    const missing = await loadModelFromFolder('/nonexistent/weblora-model').catch((e: unknown) => e);
    const f = toFailure(missing);
    expect(f.kind).toBe('model-source');
    expect(f.message).toContain('/nonexistent/weblora-model is not a folder');
    expect(f.hint).toMatch(folderWords);
    expect(f.hint).not.toMatch(hubWords);
  });

  it('dropped files: the folder, never the hub', async () => {
    const e = await loadModelFromFiles([new File(['{}'], 'config.json')]).catch((x: unknown) => x);
    const f = toFailure(e);
    expect(f.message).toMatch(/^Missing "tokenizer\.json"/);
    expect(f.hint).toMatch(folderWords);
    expect(f.hint).not.toMatch(hubWords);
    const bad = await loadModelFromFiles(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'].map((n) => new File(['not json'], n))).catch((x: unknown) => x);
    expect(toFailure(bad).hint).not.toMatch(hubWords);
  });

  it('the hub: the repo id, revision and host, never a folder', () => {
    for (const e of [httpError('org/none', 'config.json', 404, 'https://huggingface.co/org/none/resolve/main/config.json'), (() => {
      try {
        hubLocation('not a repo id!');
      } catch (x) {
        return x;
      }
    })()]) {
      const f = toFailure(e);
      expect(f.kind).toBe('model-source');
      expect(f.hint).toMatch(/repo id, the revision and the hub host/);
      expect(f.hint).not.toMatch(folderWords);
    }
  });

  it('a damaged weights file names the file, not the hub', () => {
    const f = toFailure(new SafetensorsError('model.safetensors', 'header length 99 exceeds the file'));
    expect(f.hint).toMatch(/^model\.safetensors is damaged/);
    expect(f.hint).not.toMatch(hubWords);
  });
});
