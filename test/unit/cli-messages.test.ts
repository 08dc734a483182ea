// What the CLI says about bad input (issue 13, items 6 and 8): each message names the file or
// flag and says what to do, never Node's raw text; text from a dataset or a model reaches the
// terminal with its control characters escaped, so escape sequences in the data cannot recolour,
// retitle or clear it.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainOutOfMemory } from '../../src/cli/shared/backend-errors';
import { printable, printableLines } from '../../src/cli/shared/printable';
import { parseTrainArgs } from '../../src/cli/train/args';
import { runCliInProcess } from '../helpers/cli-run';
import { STORIES_DIR } from '../helpers/paths';

const EVAL = ['eval', '--model', STORIES_DIR, '--backend', 'cpu', '--data'];
// Any C0 control but newline, DEL, or a C1 control: what must never reach the terminal raw.
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'weblora-messages-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('--data that is not a dataset file', () => {
  it('a folder', async () => {
    const dir = join(tmp, 'a-folder');
    await mkdir(dir);
    const r = await runCliInProcess([...EVAL, dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`weblora eval: error: --data ${dir} is a folder, not a file: give the dataset file in it (JSON Lines or a JSON array, e.g. ${dir}/train.jsonl)\n`);
  });

  it('/dev/null (a device)', async () => {
    const r = await runCliInProcess([...EVAL, '/dev/null']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('weblora eval: error: --data /dev/null is a device, not a file: save the dataset to a file (JSON Lines) and give that\n');
  });

  it('a missing file says so, and what to check', async () => {
    const r = await runCliInProcess([...EVAL, join(tmp, 'nope.jsonl')]);
    expect(r.stderr).toMatch(/data file .*nope\.jsonl does not exist: check the --data path\n$/);
  });

  it('an empty file and a binary file each say what they are', async () => {
    const empty = join(tmp, 'empty.jsonl');
    await writeFile(empty, '');
    expect((await runCliInProcess([...EVAL, empty])).stderr).toMatch(new RegExp(`${empty} is empty \\(0 bytes\\)\\. Choose the file that holds your training data`));
    const binary = join(tmp, 'binary.jsonl');
    await writeFile(binary, Uint8Array.from({ length: 600 }, (_, i) => (i * 37 + 11) % 256));
    expect((await runCliInProcess([...EVAL, binary])).stderr).toMatch(new RegExp(`${binary} is not a text file: it holds binary data .*WebLoRA reads a dataset as UTF-8 text`));
  });

  it('no usable record: the first lines are listed with their keys, and what to do', async () => {
    const file = join(tmp, 'allbad.jsonl');
    await writeFile(file, '{"foo": 1}\n{"foo": 2, "bar": 3}\n{"foo": 3}\n{"foo": 4}\n');
    const r = await runCliInProcess([...EVAL, file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}: no record is usable: none has the fields of a known format (instruction+output, messages,`);
    expect(r.stderr).toContain(`${file}:1: keys "foo"; ${file}:2: keys "foo", "bar"; ${file}:3: keys "foo" (and 1 more). Fix those lines, or name the columns, e.g. --columns prompt=foo,response=bar\n`);
  });
});

describe('flags', () => {
  it('--rank -1 is refused by --rank\'s own rule, not as an "ambiguous argument"', async () => {
    const r = await runCliInProcess(['train', '--model', STORIES_DIR, '--data', 'x.jsonl', '--out', 'o', '--rank', '-1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^weblora train: --rank: must be at least 1, got -1\n/);
    // Negative values are values where they are allowed.
    expect(parseTrainArgs(['--model', 'm', '--data', 'd', '--out', 'o', '--seed', '-3']).loop.seed).toBe(-3);
    // A forgotten value before the next flag is still caught, by name.
    const missing = await runCliInProcess(['train', '--model', STORIES_DIR, '--data', 'x.jsonl', '--out', '--rank', '4']);
    expect(missing.stderr).toMatch(/option '--out' needs a value/);
  });

  it('--val-fraction 0 means no validation split', () => {
    const a = parseTrainArgs(['--model', 'm', '--data', 'd', '--out', 'o', '--val-fraction', '0']);
    expect(a.valFraction).toBeUndefined();
    expect(() => parseTrainArgs(['--model', 'm', '--data', 'd', '--out', 'o', '--val-fraction', '0', '--eval-every', '2'])).toThrow(/--eval-every needs a validation split/);
    expect(() => parseTrainArgs(['--model', 'm', '--data', 'd', '--out', 'o', '--val-fraction', '-0.1'])).toThrow(/--val-fraction: must be at least 0, got -0\.1/);
  });
});

describe('out of memory on a backend', () => {
  it("wasm's abort becomes what is too large and what to try", () => {
    const e = explainOutOfMemory(new Error('Aborted(). Build with -sASSERTIONS for more info.'), { what: 'LoRA rank 200000' }) as Error;
    expect(e.message).toMatch(/^the model with LoRA rank 200000 is too large for the memory of the \w+ backend/);
    expect(e.message).toMatch(/Try a smaller --rank, fewer --targets, a smaller --batch or --max-len, or another --backend/);
    expect(e.message).not.toMatch(/ASSERTIONS/);
    const other = new Error('something else');
    expect(explainOutOfMemory(other, { what: 'x' })).toBe(other);
  });
});

describe('control characters from data and models are shown escaped', () => {
  it('printable escapes C0, DEL, C1 and bidi overrides; printableLines keeps newlines and tabs', () => {
    expect(printable('a\u001b[31mred\u001b]0;title\u0007\u009b2J\u007f\u202eevil\nx')).toBe('a\\x1b[31mred\\x1b]0;title\\x07\\x9b2J\\x7f\\u202eevil\\nx');
    expect(printableLines('line 1\n\tline 2\u001b[2J\r')).toBe('line 1\n\tline 2\\x1b[2J\\r');
    expect(printable('plain text, ünïcödé and emoji 🦙')).toBe('plain text, ünïcödé and emoji 🦙');
  });

  it('a role value and keys with escape sequences reach stderr escaped', async () => {
    const good = { messages: [{ role: 'user', content: 'Tell a story.' }, { role: 'assistant', content: 'Once upon a time there was a cat.' }] };
    const bad = { messages: [{ role: '\u001b[31mhacker\u001b]0;pwned\u0007', content: 'hi' }, { role: 'assistant', content: 'yo' }] };
    const roles = join(tmp, 'roles.jsonl');
    await writeFile(roles, [good, bad, good].map((x) => JSON.stringify(x)).join('\n') + '\n');
    const r = await runCliInProcess([...EVAL, roles]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${roles}:2: field "messages[0].role" is "\\x1b[31mhacker\\x1b]0;pwned\\x07"`);
    expect(r.stderr).not.toMatch(RAW_CONTROL);

    const keys = join(tmp, 'keys.jsonl');
    await writeFile(keys, JSON.stringify({ '\u001b]0;pwned\u0007': 'x', '\u009b2J': 'y' }) + '\n');
    const k = await runCliInProcess([...EVAL, keys]);
    expect(k.code).toBe(1);
    expect(k.stderr).toContain(`${keys}:1: keys "\\x1b]0;pwned\\x07", "\\x9b2J"`);
    expect(k.stderr).not.toMatch(RAW_CONTROL);
  });
});
