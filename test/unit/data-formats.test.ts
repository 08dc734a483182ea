import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyRecord, detectFormat, normalizeRecord } from '../../src/engine/data/formats';
import { DatasetFormatError, loadDataset } from '../../src/engine/data/load';
import { DATA_DIR } from '../helpers/paths';

const file = (rel: string) => ({ name: rel, source: new Uint8Array(readFileSync(join(DATA_DIR, rel))) });
const jsonl = (name: string, ...records: unknown[]) => ({ name, source: records.map((r) => JSON.stringify(r)).join('\n') + '\n' });

describe('format detection on the real files', () => {
  it('story-instruct is alpaca, 600 records', async () => {
    const d = await loadDataset(file('story-instruct/train.jsonl'));
    expect(d.files[0]).toMatchObject({ format: 'alpaca', detected: true, container: 'jsonl', records: 600, good: 600, bad: 0, samples: 600 });
    expect(d.issues).toEqual([]);
    expect(d.samples[0]).toEqual({
      file: 'story-instruct/train.jsonl',
      line: 1,
      sample: {
        kind: 'conversation',
        conversation: {
          turns: [
            { role: 'user', content: 'Write a story about a boy named Ella.' },
            {
              role: 'assistant',
              content:
                'Once upon a time, there was a little boy named Ella. Ella was very pretty and colorful. She had a big smile that she wanted to eat her food.',
            },
          ],
        },
      },
    });
  });

  it('alpaca-102 is a JSON array in alpaca format, inputs kept apart', async () => {
    const d = await loadDataset(file('alpaca-102/alpaca_data_102.json'));
    expect(d.files[0]).toMatchObject({ format: 'alpaca', container: 'json-array', records: 102, good: 102, bad: 0 });
    const withInput = d.samples.find((s) => s.sample.kind === 'conversation' && s.sample.conversation.turns[0]!.input);
    expect(withInput).toBeDefined();
  });

  it('self-instruct seed tasks are detected and expand their instances', async () => {
    const text = readFileSync(join(DATA_DIR, 'self-instruct/seed_tasks.jsonl'), 'utf8');
    const raw = text.trim().split('\n').map((l) => JSON.parse(l) as { instruction: string; instances: { input: string; output: string }[] });
    const instances = raw.reduce((n, r) => n + r.instances.length, 0);
    const d = await loadDataset(file('self-instruct/seed_tasks.jsonl'));
    expect(d.files[0]).toMatchObject({ format: 'self-instruct', records: 175, good: 175, samples: instances });
    const withInput = raw.findIndex((r) => r.instances[0]!.input !== '');
    expect(d.samples[withInput]!.sample).toEqual({
      kind: 'conversation',
      conversation: {
        turns: [
          { role: 'user', content: raw[withInput]!.instruction, input: raw[withInput]!.instances[0]!.input },
          { role: 'assistant', content: raw[withInput]!.instances[0]!.output },
        ],
      },
    });
  });

  it('self-instruct makes one sample per instance (every real seed task has one, so inline)', async () => {
    const rec = { instruction: 'Add.', instances: [{ input: '1+1', output: '2' }, { input: '2+2', output: '4' }, { output: '0' }] };
    const d = await loadDataset(jsonl('si.jsonl', { instruction: 'x', instances: [{ input: '', output: 'y' }] }, rec));
    expect(d.files[0]).toMatchObject({ format: 'self-instruct', records: 2, good: 2, samples: 4 });
    expect(d.samples.map((s) => s.line)).toEqual([1, 2, 2, 2]);
    expect(d.samples.map((s) => s.sample.kind === 'conversation' && s.sample.conversation.turns[1]!.content)).toEqual(['y', '2', '4', '0']);
    expect(d.samples[3]!.sample.kind === 'conversation' && d.samples[3]!.sample.conversation.turns[0]).toEqual({ role: 'user', content: 'Add.' });
  });

  it('gsm8k is detected as question → answer columns, the same samples as the mapping given by hand', async () => {
    const d = await loadDataset(file('gsm8k/train.jsonl'));
    expect(d.files[0]).toMatchObject({ format: 'columns', detected: true, columns: { prompt: 'question', response: 'answer' }, records: 7473, good: 7473, bad: 0 });
    const given = await loadDataset(file('gsm8k/train.jsonl'), { columns: { prompt: 'question', response: 'answer' } });
    expect(given.files[0]).toMatchObject({ format: 'columns', detected: false, records: 7473, good: 7473, bad: 0 });
    expect(d.samples).toEqual(given.samples);
    const s = d.samples[0]!.sample;
    expect(s.kind === 'conversation' && s.conversation.turns.map((t) => t.role)).toEqual(['user', 'assistant']);
    expect(s.kind === 'conversation' && s.conversation.turns[0]!.content).toMatch(/^Natalia sold clips/);
  });

  it('keys in no known format or common pair ask for a mapping over the keys', async () => {
    const err = await loadDataset(jsonl('mine.jsonl', { problem: 'p', solution: 's' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetFormatError);
    expect((err as DatasetFormatError).keys).toEqual(['problem', 'solution']);
    expect((err as Error).message).toBe(
      'mine.jsonl: could not detect the dataset format from the keys "problem", "solution"; give a column mapping such as { prompt: "problem", response: "solution" }',
    );
  });
});

describe('chat and ShareGPT', () => {
  const chat = {
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello.' },
      { role: 'user', content: 'Name a color.' },
      { role: 'assistant', content: 'Blue.' },
    ],
  };
  const expected = {
    kind: 'conversation',
    conversation: {
      system: 'Be brief.',
      turns: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'Name a color.' },
        { role: 'assistant', content: 'Blue.' },
      ],
    },
  };

  it('normalises multi-turn chat', async () => {
    const d = await loadDataset(jsonl('chat.jsonl', chat, chat));
    expect(d.files[0]!.format).toBe('chat');
    expect(d.samples.map((s) => s.sample)).toEqual([expected, expected]);
  });

  it('normalises multi-turn ShareGPT', async () => {
    const sg = {
      conversations: [
        { from: 'system', value: 'Be brief.' },
        { from: 'human', value: 'Hi' },
        { from: 'gpt', value: 'Hello.' },
        { from: 'human', value: 'Name a color.' },
        { from: 'gpt', value: 'Blue.' },
      ],
    };
    const d = await loadDataset(jsonl('sg.jsonl', sg));
    expect(d.files[0]!.format).toBe('sharegpt');
    expect(d.samples[0]!.sample).toEqual(expected);
  });

  it('accepts text content parts and TRL conversational prompt/completion', () => {
    const parts = { messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }, { role: 'assistant', content: 'Yo' }] };
    expect(normalizeRecord(parts, { format: 'chat' })).toMatchObject({ ok: true });
    const pc = { prompt: [{ role: 'user', content: 'Hi' }], completion: [{ role: 'assistant', content: 'Yo' }] };
    const n = normalizeRecord(pc, { format: 'prompt-completion' });
    expect(n.ok && n.samples[0]).toEqual({
      kind: 'conversation',
      conversation: { turns: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }] },
    });
  });

  it('ignores messages after the last answer, with a warning', async () => {
    const d = await loadDataset(jsonl('c.jsonl', { messages: [...chat.messages, { role: 'user', content: 'Thanks' }] }));
    expect(d.samples[0]!.sample).toEqual(expected);
    expect(d.warnings).toEqual([{ file: 'c.jsonl', line: 1, reason: '1 message(s) after the last assistant message ignored' }]);
  });
});

describe('detection', () => {
  it('classifies by keys', () => {
    expect(classifyRecord({ instruction: '', output: '' })).toBe('alpaca');
    expect(classifyRecord({ instruction: '', instances: [] })).toBe('self-instruct');
    expect(classifyRecord({ prompt: '', completion: '' })).toBe('prompt-completion');
    expect(classifyRecord({ messages: [] })).toBe('chat');
    expect(classifyRecord({ conversations: [] })).toBe('sharegpt');
    expect(classifyRecord({ text: '' })).toBe('text');
    expect(classifyRecord({ question: '', answer: '' })).toBeNull();
  });

  it('goes by the majority, not the first record', () => {
    const d = detectFormat([{ text: 'a' }, { prompt: 'p', completion: 'c' }, { prompt: 'p', completion: 'c' }]);
    expect(d.format).toBe('prompt-completion');
    expect(d.votes).toEqual({ text: 1, 'prompt-completion': 2 });
  });

  it('can be overridden', async () => {
    const d = await loadDataset(jsonl('t.jsonl', { text: 'x', prompt: 'p', completion: 'c' }), { format: 'prompt-completion' });
    expect(d.files[0]).toMatchObject({ format: 'prompt-completion', detected: false });
  });

  it('reports records that do not fit the majority format', async () => {
    const d = await loadDataset(jsonl('m.jsonl', { text: 'a' }, { text: 'b' }, { prompt: 'p', completion: 'c' }));
    expect(d.files[0]).toMatchObject({ format: 'text', good: 2, bad: 1 });
    expect(d.issues).toEqual([{ file: 'm.jsonl', line: 3, reason: 'field "text" is missing' }]);
  });
});

describe('bad records name the field', () => {
  const cases: [string, string, unknown, string][] = [
    ['alpaca', 'missing output', { instruction: 'i', input: '' }, 'field "output" is missing'],
    ['alpaca', 'output not a string', { instruction: 'i', output: 3 }, 'field "output" must be a string'],
    ['alpaca', 'missing instruction', { output: 'o' }, 'field "instruction" is missing'],
    ['alpaca', 'input not a string', { instruction: 'i', input: ['x'], output: 'o' }, 'field "input" must be a string'],
    ['prompt-completion', 'missing completion', { prompt: 'p' }, 'field "completion" is missing'],
    ['text', 'text not a string', { text: { a: 1 } }, 'field "text" must be a string'],
    ['self-instruct', 'instances not an array', { instruction: 'i', instances: 'x' }, 'field "instances" must be an array'],
    ['self-instruct', 'empty instances', { instruction: 'i', instances: [] }, 'field "instances" is empty'],
    ['self-instruct', 'instance without output', { instruction: 'i', instances: [{ input: '' }] }, 'field "instances[0].output" is missing'],
    ['chat', 'messages missing', { msgs: [] }, 'field "messages" is missing'],
    ['chat', 'message not an object', { messages: ['hi'] }, 'field "messages[0]" must be an object'],
    ['chat', 'content not a string', { messages: [{ role: 'user', content: 1 }] }, 'field "messages[0].content" must be a string'],
    ['chat', 'unknown role', { messages: [{ role: 'tool', content: 'x' }] }, 'field "messages[0].role" is "tool", not one of system, user, assistant'],
    ['chat', 'no assistant', { messages: [{ role: 'user', content: 'x' }] }, 'field "messages" has no assistant message'],
    [
      'chat',
      'late system message',
      { messages: [{ role: 'user', content: 'x' }, { role: 'system', content: 's' }, { role: 'assistant', content: 'y' }] },
      'field "messages[1]": a system message is only allowed before the others',
    ],
    ['sharegpt', 'unknown from', { conversations: [{ from: 'bot', value: 'x' }] }, 'field "conversations[0].from" is "bot", not one of system, human, gpt'],
    ['sharegpt', 'value missing', { conversations: [{ from: 'human' }] }, 'field "conversations[0].value" is missing'],
    ['columns', 'mapped column missing', { question: 'q' }, 'field "answer" is missing'],
    ['columns', 'mapped column an object', { question: 'q', answer: {} }, 'field "answer" must be a string'],
  ];
  it.each(cases)('%s: %s', async (format, _what, bad, reason) => {
    const columns = { prompt: 'question', response: 'answer' };
    const good = {
      alpaca: { instruction: 'i', output: 'o' },
      'prompt-completion': { prompt: 'p', completion: 'c' },
      text: { text: 't' },
      'self-instruct': { instruction: 'i', instances: [{ input: '', output: 'o' }] },
      chat: { messages: [{ role: 'user', content: 'u' }, { role: 'assistant', content: 'a' }] },
      sharegpt: { conversations: [{ from: 'human', value: 'u' }, { from: 'gpt', value: 'a' }] },
      columns: { question: 'q', answer: 42 },
    }[format]!;
    const d = await loadDataset(jsonl('bad.jsonl', good, good, bad, good), {
      format: format as never,
      ...(format === 'columns' ? { columns } : {}),
    });
    expect(d.issues).toEqual([{ file: 'bad.jsonl', line: 3, reason }]);
    expect(d.files[0]).toMatchObject({ records: 4, good: 3, bad: 1 });
    expect(d.samples.map((s) => s.line)).toEqual([1, 2, 4]);
  });

  it('counts JSONL-level and record-level problems together, by line', async () => {
    const d = await loadDataset({
      name: 'mixed.jsonl',
      source: '{"instruction":"i","output":"o"}\nnope\n{"instruction":"i"}\n\n{"instruction":"i","output":"o"}',
    });
    expect(d.files[0]).toMatchObject({ format: 'alpaca', records: 4, good: 2, bad: 2, blankLines: 1 });
    expect(d.issues.map((i) => [i.line, i.reason.slice(0, 20)])).toEqual([
      [2, 'not valid JSON: Unex'],
      [3, 'field "output" is mi'],
    ]);
  });
});
