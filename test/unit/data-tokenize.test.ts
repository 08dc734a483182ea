import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBatches } from '../../src/engine/data/batches';
import { buildExamples } from '../../src/engine/data/examples';
import { loadDataset, type SourcedSample } from '../../src/engine/data/load';
import { renderPrompt, renderSample, resolveTemplate } from '../../src/engine/data/template';
import { encodePrompt, eosTextOf, tokenizeRendered } from '../../src/engine/data/tokenize';
import type { Conversation, Sample } from '../../src/engine/data/types';
import type { TextTokenizer } from '../../src/engine/model/tokenizer';
import { DATA_DIR } from '../helpers/paths';
import { loadStoriesChatmlTokenizer, loadStoriesTokenizer } from '../helpers/stories-tokenizer';

let tok: TextTokenizer;
let chatml: TextTokenizer;
beforeAll(async () => {
  tok = await loadStoriesTokenizer();
  chatml = await loadStoriesChatmlTokenizer();
});

const BOS = 1;
const EOS = 2;
const conv = (c: Conversation): Sample => ({ kind: 'conversation', conversation: c });
const sourced = (sample: Sample, line = 1): SourcedSample => ({ file: 'x.jsonl', line, sample });
const single = (user: string, answer: string, extra: Partial<Conversation> = {}, input?: string) =>
  conv({ ...extra, turns: [input ? { role: 'user', content: user, input } : { role: 'user', content: user }, { role: 'assistant', content: answer }] });
/** Decoded runs of trained targets, e.g. ["Hello.</s>", "Blue.</s>"]. */
const trainedRuns = (t: TextTokenizer, ids: number[], mask: number[]) => {
  const runs: number[][] = [];
  mask.forEach((m, i) => {
    if (!m) return;
    if (i === 0 || !mask[i - 1]) runs.push([]);
    runs.at(-1)!.push(ids[i]!);
  });
  return runs.map((r) => t.decode(r));
};

describe('the stories260K tokenizer', () => {
  it('prepends BOS 1, has EOS 2 and no chat template', () => {
    expect(tok.encode('Hi')[0]).toBe(BOS);
    expect(tok.eosTokenId).toBe(EOS);
    expect(tok.chatTemplate).toBeNull();
    expect(resolveTemplate('auto', tok)).toBe('alpaca');
    expect(resolveTemplate('auto', chatml)).toBe('chat-template');
    expect(eosTextOf(tok)).toBe('</s>');
  });
});

describe('templates', () => {
  it("renders DESIGN.md's Alpaca prompt for the first story-instruct record", async () => {
    const d = await loadDataset({ name: 'train.jsonl', source: new Uint8Array(readFileSync(join(DATA_DIR, 'story-instruct/train.jsonl'))) });
    const r = renderSample(d.samples[0]!.sample, tok, { template: 'alpaca', eosText: '</s>' });
    const prompt = '### Instruction:\nWrite a story about a boy named Ella.\n\n### Response:\n';
    expect(r.spans).toEqual([{ before: prompt, through: r.text }]);
    expect(r.text).toBe(
      prompt + 'Once upon a time, there was a little boy named Ella. Ella was very pretty and colorful. She had a big smile that she wanted to eat her food.',
    );
    expect(r.addSpecialTokens).toBe(true);
  });

  it('Alpaca with an input and a system text', () => {
    const r = renderSample(single('Add.', '2', { system: 'You add.' }, '1+1'), tok, { template: 'alpaca', eosText: null });
    expect(r.text).toBe('You add.\n\n### Instruction:\nAdd.\n\n### Input:\n1+1\n\n### Response:\n2');
  });

  it('ChatML and plain as text, multi-turn', () => {
    const c = conv({
      system: 'S',
      turns: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Yo' },
        { role: 'user', content: 'Q', input: 'I' },
        { role: 'assistant', content: 'A' },
      ],
    });
    const cm = renderSample(c, tok, { template: 'chatml', eosText: '</s>' });
    expect(cm.text).toBe(
      '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|></s>\n' +
        '<|im_start|>user\nQ\n\nI<|im_end|>\n<|im_start|>assistant\nA<|im_end|>',
    );
    const plain = renderSample(c, tok, { template: 'plain', eosText: null });
    expect(plain.text).toBe('S\n\nUser: Hi\nAssistant: Yo\nUser: Q\n\nI\nAssistant: A');
    expect(plain.spans.map((s) => plain.text.slice(s.before.length, s.through.length))).toEqual(['Yo', 'A']);
  });

  it('renders the generation prompt the way training saw it', () => {
    const c: Conversation = { turns: [{ role: 'user', content: 'Write a story.' }] };
    expect(renderPrompt(c, tok, 'alpaca')).toBe('### Instruction:\nWrite a story.\n\n### Response:\n');
    expect(renderPrompt(c, chatml, 'chat-template')).toBe('<|im_start|>user\nWrite a story.<|im_end|>\n<|im_start|>assistant\n');
    // The prompt's ids are exactly the untrained head of a training example.
    const train = buildExamples([sourced(conv({ turns: [...c.turns, { role: 'assistant', content: 'Once.' }] }))], tok, {
      template: 'alpaca',
      maxLength: 512,
      trainOn: 'responses',
    }).examples[0]!;
    const ids = encodePrompt(c, tok, 'alpaca');
    expect(train.inputIds.slice(0, ids.length)).toEqual(ids);
    expect(train.lossMask.indexOf(1)).toBe(ids.length);
  });
});

describe('tokens and loss mask (TRL conventions)', () => {
  const opts = { maxLength: 512, trainOn: 'responses' as const, appendEos: true };

  it('masks the prompt, trains the response and the appended EOS', () => {
    const prompt = '### Instruction:\nWrite a story about a fox named Owen.\n\n### Response:\n';
    const answer = 'Once upon a time, there was a little fox named Owen.';
    const r = renderSample(single('Write a story about a fox named Owen.', answer), tok, { template: 'alpaca', eosText: null });
    const t = tokenizeRendered(r, tok, opts);
    const promptIds = tok.encode(prompt);
    expect(promptIds[0]).toBe(BOS);
    expect(t.inputIds).toEqual([...tok.encode(prompt + answer), EOS]);
    expect(t.lossMask.indexOf(1)).toBe(promptIds.length);
    expect(t.lossMask).toEqual(t.inputIds.map((_, i) => (i >= promptIds.length ? 1 : 0)));
    expect(t.inputIds.at(-1)).toBe(EOS);
    expect(t.lossMask.at(-1)).toBe(1);
    expect(t.promptLength).toBe(promptIds.length);
    expect(t.warnings).toEqual([]);
    expect(t.truncated).toBe(false);
  });

  it('targets are the next token, -1 elsewhere, and EOS is the last trained target', () => {
    const r = renderSample(single('Hi', 'Once upon a time.'), tok, { template: 'alpaca', eosText: null });
    const t = tokenizeRendered(r, tok, opts);
    const [b] = makeBatches([t], { batchSize: 1, maxLength: 64, padId: EOS, shuffle: false });
    const L = t.inputIds.length;
    for (let p = 0; p < b!.seqLen; p++) {
      const want = p + 1 < L && t.lossMask[p + 1] ? t.inputIds[p + 1] : -1;
      expect(b!.targets[p], `position ${p}`).toBe(want);
    }
    const trained = [...b!.targets].filter((x) => x !== -1);
    expect(trained.at(-1)).toBe(EOS);
    expect([...b!.targets].lastIndexOf(EOS)).toBe(L - 2);
    expect(b!.targets[L - 1]).toBe(-1); // the last real position predicts nothing
  });

  it('warns (does not throw) when the prompt tokens are not a prefix', () => {
    const r = renderSample(single('Once upon a ti', 'me'), tok, { template: 'raw', eosText: null });
    const t = tokenizeRendered(r, tok, opts);
    expect(tok.encode('Once upon a ti')).not.toEqual(tok.encode('Once upon a time').slice(0, tok.encode('Once upon a ti').length));
    expect(t.warnings).toHaveLength(1);
    expect(t.warnings[0]).toMatch(/not a prefix/);
    // The prompt is 6 tokens but prompt+response only 5 ("time" merges): as in TRL the mask still
    // starts at the prompt's count, which leaves only the appended EOS trained.
    expect(t.inputIds).toEqual([...tok.encode('Once upon a time'), EOS]);
    expect(t.lossMask).toEqual([0, 0, 0, 0, 0, 1]);
  });

  it("trainOn 'all' trains every token but the first", () => {
    const r = renderSample(single('Hi', 'Yo'), tok, { template: 'alpaca', eosText: null });
    const t = tokenizeRendered(r, tok, { ...opts, trainOn: 'all' });
    expect(t.lossMask).toEqual(t.inputIds.map((_, i) => (i === 0 ? 0 : 1)));
  });

  it('plain text: BOS + text + EOS, all trained but BOS', () => {
    const r = renderSample({ kind: 'text', text: 'Once upon a time.' }, tok, { template: 'alpaca', eosText: null });
    const t = tokenizeRendered(r, tok, opts);
    expect(t.inputIds).toEqual([...tok.encode('Once upon a time.'), EOS]);
    expect(t.lossMask).toEqual(t.inputIds.map((_, i) => (i === 0 ? 0 : 1)));
  });

  it('multi-turn with a text template: loss on every answer, each ending in EOS', () => {
    const c = conv({
      turns: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'Name a color.' },
        { role: 'assistant', content: 'Blue.' },
      ],
    });
    const { examples, warnings } = buildExamples([sourced(c)], tok, { template: 'alpaca', maxLength: 512, trainOn: 'responses' });
    expect(warnings).toEqual([]);
    const e = examples[0]!;
    expect(trainedRuns(tok, e.inputIds, e.lossMask)).toEqual(['Hello.</s>', 'Blue.</s>']);
    expect(e.inputIds.filter((x) => x === EOS)).toHaveLength(2);
    expect(tok.decode(e.inputIds)).toBe('<s> ### Instruction:\nHi\n\n### Response:\nHello.</s> \n\n### Instruction:\nName a color.\n\n### Response:\nBlue.</s>');
  });

  it("multi-turn with the tokenizer's (ChatML) chat template: no added BOS, answers and end markers trained", () => {
    const c = conv({
      system: 'Be brief.',
      turns: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'Name a color.' },
        { role: 'assistant', content: 'Blue.' },
      ],
    });
    const r = renderSample(c, chatml, { template: 'chat-template', eosText: null });
    expect(r.addSpecialTokens).toBe(false);
    expect(r.text).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n' +
        '<|im_start|>user\nName a color.<|im_end|>\n<|im_start|>assistant\nBlue.<|im_end|>\n',
    );
    const { examples } = buildExamples([sourced(c)], chatml, { template: 'chat-template', maxLength: 512, trainOn: 'responses' });
    const e = examples[0]!;
    expect(e.inputIds[0]).not.toBe(BOS);
    expect(e.inputIds).toEqual(chatml.encode(r.text, { addSpecialTokens: false }));
    expect(trainedRuns(chatml, e.inputIds, e.lossMask).map((s) => s.trim())).toEqual(['Hello.<|im_end|>', 'Blue.<|im_end|>']);
  });

  it('appendEos can be forced on with a chat template', () => {
    const { examples } = buildExamples([sourced(single('Hi', 'Yo'))], chatml, {
      template: 'chat-template',
      maxLength: 512,
      trainOn: 'responses',
      appendEos: true,
    });
    expect(examples[0]!.inputIds.at(-1)).toBe(EOS);
    expect(examples[0]!.lossMask.at(-1)).toBe(1);
  });
});

describe('truncation', () => {
  const sample = single('Write a story about a fox named Owen.', 'Once upon a time, there was a little fox named Owen. He liked to run.');
  const full = () => buildExamples([sourced(sample)], tok, { template: 'alpaca', maxLength: 512, trainOn: 'responses' }).examples[0]!;

  it('cuts to maxLength, counts and reports it, and keeps the example while a response token remains', () => {
    const n = full().inputIds.length;
    const prompt = full().lossMask.indexOf(1);
    const b = buildExamples([sourced(sample, 5), sourced(single('Hi', 'Yo'), 6)], tok, { template: 'alpaca', maxLength: prompt + 3, trainOn: 'responses' });
    expect(b.examples).toHaveLength(2);
    expect(b.examples[0]!.truncated).toBe(true);
    expect(b.examples[0]!.inputIds).toEqual(full().inputIds.slice(0, prompt + 3));
    expect(b.examples[0]!.lossMask.filter((m) => m === 1)).toHaveLength(3);
    expect(b.examples[0]!.inputIds).not.toContain(EOS);
    expect(b.examples[1]!.truncated).toBe(false);
    expect(b.truncated).toEqual([{ file: 'x.jsonl', line: 5, reason: `truncated from ${n} to ${prompt + 3} tokens` }]);
    expect(b.lengths).toEqual([n, expect.any(Number)]);
    expect(b.dropped).toEqual([]);
  });

  it('excludes, with its line and a reason, an example whose every response token was cut', () => {
    const prompt = full().lossMask.indexOf(1);
    const b = buildExamples([sourced(sample, 7), sourced(single('Hi', 'Yo'), 8)], tok, { template: 'alpaca', maxLength: prompt, trainOn: 'responses' });
    expect(b.examples.map((e) => e.line)).toEqual([8]);
    expect(b.truncated.map((i) => i.line)).toEqual([7]);
    expect(b.dropped).toEqual([
      {
        file: 'x.jsonl',
        line: 7,
        reason: `truncation to maxLength ${prompt} removed every response token (the prompt alone is ${prompt} tokens, the sample ${full().inputIds.length})`,
      },
    ]);
  });

  it('story-instruct fits in 128 tokens with the Alpaca template, BOS and EOS, as its README says', async () => {
    const d = await loadDataset({ name: 't', source: new Uint8Array(readFileSync(join(DATA_DIR, 'story-instruct/train.jsonl'))) });
    const b = buildExamples(d.samples, tok, { template: 'alpaca', maxLength: 128, trainOn: 'responses' });
    expect(b.examples).toHaveLength(600);
    expect(b.truncated).toEqual([]);
    expect(Math.max(...b.lengths)).toBeLessThanOrEqual(128);
    expect(b.examples.every((e) => e.inputIds[0] === BOS && e.inputIds.at(-1) === EOS)).toBe(true);
  });
});
