import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { generate } from '../../src/engine/generate/generate';
import { applyRepetitionPenalty, sampleToken } from '../../src/engine/generate/sampling';
import { mulberry32 } from '../../src/engine/rng';
import type { LoadedModel } from '../../src/engine/model/load';
import { loadStories, referenceGreedy } from '../helpers/stories';

describe('sampling', () => {
  const logits = Float32Array.from([1, 3, 2, 0.5, -1]);

  it('greedy is argmax; temperature sampling is seeded and stays inside top-k', () => {
    expect(sampleToken(logits, [], {}, Math.random)).toBe(1);
    const draw = (seed: number) => {
      const r = mulberry32(seed);
      return Array.from({ length: 200 }, () => sampleToken(logits, [], { temperature: 1.5, topK: 2 }, r));
    };
    expect(draw(1)).toEqual(draw(1));
    expect(new Set(draw(1))).toEqual(new Set([1, 2]));
  });

  it('top-p keeps the smallest set of tokens reaching p', () => {
    // softmax([1,3,2,.5,-1]) ≈ [.086,.636,.234,.052,.012]: p = 0.7 keeps tokens 1 and 2.
    const r = mulberry32(3);
    const seen = new Set(Array.from({ length: 300 }, () => sampleToken(logits, [], { temperature: 1, topP: 0.7 }, r)));
    expect(seen).toEqual(new Set([1, 2]));
  });

  it('repetition penalty divides positive and multiplies negative logits of seen tokens', () => {
    const row = Float32Array.from(logits);
    applyRepetitionPenalty(row, [1, 4, 1], 2);
    expect(Array.from(row)).toEqual([1, 1.5, 2, 0.5, -2]);
  });
});

describe('generation on stories260K (cpu)', () => {
  let m: LoadedModel;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    m = await loadStories();
  });
  afterAll(() => m?.model.dispose());

  it('streams deltas that add up to the text, keeping the space before the first word', async () => {
    const deltas: string[] = [];
    const out = await generate(m.model, m.tokenizer, 'Once upon a', { maxNewTokens: 12, onText: (d) => void deltas.push(d) });
    expect(out.text.startsWith(' time')).toBe(true);
    expect(deltas.join('')).toBe(out.text);
    expect(deltas.length).toBeGreaterThan(3);
    const ref = await referenceGreedy();
    expect(ref.greedy_text.startsWith(' Once upon a' + out.text)).toBe(true);
  });

  it('stops at a stop string (cut before it) and at max-new-tokens', async () => {
    const stopped = await generate(m.model, m.tokenizer, 'Once upon a time', { maxNewTokens: 60, stopStrings: ['Lily'] });
    expect(stopped.finishReason).toBe('stop-string');
    expect(stopped.text).toBe(', there was a little girl named ');
    const short = await generate(m.model, m.tokenizer, 'Once upon a time', { maxNewTokens: 3 });
    expect(short.finishReason).toBe('length');
    expect(short.ids).toHaveLength(3);
  });

  it('stops on EOS, and on abort', async () => {
    const eos = await generate(m.model, m.tokenizer, 'Once upon a time', { maxNewTokens: 400, temperature: 1, seed: 1, eosTokenIds: [13] });
    expect(eos.finishReason).toBe('eos');
    expect(eos.ids.at(-1)).toBe(13);
    const ctl = new AbortController();
    const aborted = await generate(m.model, m.tokenizer, 'Once upon a time', { maxNewTokens: 50, onText: () => ctl.abort(), signal: ctl.signal });
    expect(aborted.finishReason).toBe('aborted');
    expect(aborted.ids.length).toBeLessThan(5);
  });

  it('the same seed gives the same sample, another seed another', async () => {
    const opts = { maxNewTokens: 20, temperature: 1, topP: 0.95 };
    const a = await generate(m.model, m.tokenizer, 'The dog', { ...opts, seed: 5 });
    const b = await generate(m.model, m.tokenizer, 'The dog', { ...opts, seed: 5 });
    const c = await generate(m.model, m.tokenizer, 'The dog', { ...opts, seed: 6 });
    expect(a.ids).toEqual(b.ids);
    expect(c.ids).not.toEqual(a.ids);
  });
});
