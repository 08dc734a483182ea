// What trusted tools warn about, said per file and line: empty answers (skipped) and empty
// questions (kept, warned), a record of megabytes (cut before tokenizing), a length or a
// generation beyond the model's context, a LoRA rank above a module's smaller side, and
// progress while a large file is tokenized.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDataset } from '../../src/engine/data';
import { tokenizeRendered } from '../../src/engine/data/tokenize';
import { renderSample } from '../../src/engine/data/template';
import { Session } from '../../src/engine/session';
import { loadModelFromFolder } from '../../src/engine/model/source/source-folder';
import { TARGET_PRESETS } from '../../src/engine/lora/lora';
import type { TextTokenizer } from '../../src/engine/model/tokenizer';
import { tokenizingProgress } from '../../src/cli/shared/data';
import { Interrupts, type CliIO } from '../../src/cli/main';
import { loadStoriesTokenizer } from '../helpers/stories-tokenizer';
import { runCliInProcess } from '../helpers/cli-run';
import { STORIES_DIR } from '../helpers/paths';

const text = (lines: unknown[]) => new TextEncoder().encode(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');

let tok: TextTokenizer;
let scratch: string;
beforeAll(async () => {
  tok = await loadStoriesTokenizer();
  scratch = await mkdtemp(join(tmpdir(), 'weblora-warn-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('empty instructions and responses', () => {
  it('an empty answer skips its record, naming file, line and field; an empty question is kept with a warning', async () => {
    const alpaca = text([
      { instruction: 'Write a story.', input: '', output: 'Once upon a time.' },
      { instruction: 'Write a story.', input: '', output: '' },
      { instruction: 'Write a story.', input: '', output: '  \n ' },
      { instruction: '', input: '', output: 'A story without a question.' },
      { instruction: '', input: 'Tom and a dog', output: 'Tom had a dog.' },
    ]);
    const p = await prepareDataset({ name: 'a.jsonl', source: alpaca }, tok, { maxLength: 64 });
    expect(p.report.issues).toEqual([
      { file: 'a.jsonl', line: 2, reason: 'field "output" is empty: there is nothing to learn from this record' },
      { file: 'a.jsonl', line: 3, reason: 'field "output" is empty (whitespace only): there is nothing to learn from this record' },
    ]);
    expect(p.report.warnings).toEqual([{ file: 'a.jsonl', line: 4, reason: 'field "instruction" is empty: the answer is trained without a question' }]);
    expect(p.train.length + p.val.length).toBe(3);
  });

  it('chat, sharegpt, prompt-completion and text records name the empty message', async () => {
    const chat = text([
      { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello there.' }] },
      { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: ' ' }] },
      { messages: [{ role: 'user', content: '' }, { role: 'assistant', content: 'Hello.' }] },
    ]);
    const c = await prepareDataset({ name: 'c.jsonl', source: chat }, tok, { maxLength: 64 });
    expect(c.report.issues.map((i) => [i.line, i.reason])).toEqual([[2, 'field "messages[1].content" is empty (whitespace only): there is nothing to learn from this record']]);
    expect(c.report.warnings.map((i) => [i.line, i.reason])).toEqual([[3, 'field "messages[0].content" is empty: the answer is trained without a question']]);
    const sharegpt = text([{ system: 'Be kind.', conversations: [{ from: 'human', value: 'Hi' }, { from: 'gpt', value: '' }] }]);
    const s = await prepareDataset({ name: 's.jsonl', source: sharegpt }, tok, { maxLength: 64 }).catch((e: Error) => e);
    // The only record is bad: the error or report names conversations[1].value (the system field is not a message).
    expect(JSON.stringify(s instanceof Error ? s.message : (s as { report: unknown }).report)).toContain('conversations[1].value');
    const pc = await prepareDataset({ name: 'p.jsonl', source: text([{ prompt: 'Q', completion: 'A.' }, { prompt: 'Q', completion: '' }]) }, tok, { maxLength: 64 });
    expect(pc.report.issues.map((i) => i.reason)).toEqual(['field "completion" is empty: there is nothing to learn from this record']);
    const t = await prepareDataset({ name: 't.jsonl', source: text([{ text: 'Once upon a time.' }, { text: '' }]) }, tok, { maxLength: 64 });
    expect(t.report.issues.map((i) => [i.line, i.reason])).toEqual([[2, 'field "text" is empty: there is nothing to learn from this record']]);
  });
});

describe('a record of megabytes', () => {
  const story = 'Once upon a time, there was a little girl named Lily. She liked to play in the park with her dog. ';

  it('is cut before tokenizing, with a per-line warning, and trains the same first tokens', async () => {
    const huge = story.repeat(Math.ceil(1_500_000 / story.length));
    const lines = [{ instruction: 'Tell a story.', output: 'A short one.' }, { instruction: 'Tell a long story.', output: huge }];
    const p = await prepareDataset({ name: 'big.jsonl', source: text(lines) }, tok, { maxLength: 64 });
    const w = p.report.warnings.find((x) => x.line === 2);
    expect(w?.reason).toMatch(/^1,5\d\d,\d{3} characters, far more than 64 tokens can hold: cut to 2,048 characters before tokenizing, then truncated$/);
    expect(p.report.truncated.map((x) => x.line)).toEqual([2]);
    const cut = [...p.train, ...p.val].find((e) => e.line === 2)!;
    expect(cut.inputIds).toHaveLength(64);
    // The cut changes nothing trained: the same 64 tokens and mask as tokenizing a long (uncut) prefix.
    const rendered = renderSample({ kind: 'conversation', conversation: { turns: [{ role: 'user', content: 'Tell a long story.' }, { role: 'assistant', content: huge.slice(0, 20_000) }] } }, tok, { template: p.template as 'alpaca', eosText: null });
    const whole = tokenizeRendered(rendered, tok, { maxLength: 64, trainOn: 'responses', appendEos: true });
    expect(cut.inputIds).toEqual(whole.inputIds);
    expect(cut.lossMask).toEqual(whole.lossMask);
  });

  it('tokenizing reports progress on stderr while it lasts', () => {
    let err = '';
    const io: CliIO = { stdout: () => {}, stderr: (t) => void (err += t), env: {}, interrupts: new Interrupts() };
    const quiet = tokenizingProgress(io, 60_000);
    quiet(0, 1000);
    quiet(1000, 1000);
    expect(err).toBe(''); // quick: nothing said
    const progress = tokenizingProgress(io, 0);
    progress(256, 50_000);
    progress(50_000, 50_000);
    expect(err).toMatch(/^tokenizing: 256 of 50,000 samples \(\d+ s\)\ntokenizing: 50,000 of 50,000 samples \(\d+ s\)\n$/);
  });
});

describe('context length and rank', () => {
  let session: Session;
  beforeAll(async () => {
    session = await Session.open(await loadModelFromFolder(STORIES_DIR));
  });
  afterAll(() => session?.dispose());

  it("a max length beyond max_position_embeddings and a rank above a module's smaller side are warned", () => {
    const lora = { r: 40, alpha: 80, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['attention-qv']] };
    expect(session.trainingWarnings(lora, 1024, '--max-len')).toEqual([
      'LoRA rank 40 on v_proj (model.layers.0.self_attn.v_proj and alike) exceeds its smaller dimension 32 (32×64): the update cannot have rank above 32, so the extra rank only costs memory; rank 32 or less does the same',
      "--max-len is 1024 tokens, beyond this model's context of 512 (max_position_embeddings): positions past 512 were never trained, so output there degrades",
    ]);
    expect(session.trainingWarnings({ ...lora, r: 8 }, 512)).toEqual([]);
    expect(session.generationWarning(20, 492)).toBeNull();
    expect(session.generationWarning(20, 600)).toMatch(/^the prompt \(20 tokens\) plus up to 600 new tokens is 620 tokens, beyond this model's context of 512/);
  });

  it('weblora train and generate print them', async () => {
    const data = join(scratch, 'two.jsonl');
    await writeFile(data, text([{ instruction: 'Tell a story.', output: 'Once upon a time.' }, { instruction: 'Tell another.', output: 'Lily had a dog.' }]));
    const t = await runCliInProcess(['train', '--model', STORIES_DIR, '--data', data, '--max-len', '600', '--rank', '40', '--max-steps', '1', '--batch', '2', '--backend', 'wasm', '--out', join(scratch, 'out')], { WEBLORA_CACHE_DIR: join(scratch, 'cache') });
    expect(t.code).toBe(0);
    expect(t.stderr).toContain('warning: LoRA rank 40 on v_proj');
    expect(t.stderr).toContain("warning: --max-len is 600 tokens, beyond this model's context of 512");
    const g = await runCliInProcess(['generate', '--model', STORIES_DIR, '--prompt', 'Once upon a time', '--max-new-tokens', '600', '--stop', '.', '--backend', 'cpu']);
    expect(g.code).toBe(0);
    expect(g.stderr).toMatch(/warning: the prompt \(\d+ tokens\) plus up to 600 new tokens is \d+ tokens, beyond this model's context of 512/);
  });
});
