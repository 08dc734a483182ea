// `--stop`: what is streamed must be exactly the text cut before the first stop string — never
// the beginning of a stop string that arrives split over tokens. Checked as a property over many
// random stop strings, against the plain cut of the whole text: on a fake token stream (random
// token boundaries, multi-token characters) and on stories260K's real greedy generation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { generate } from '../../src/engine/generate/generate';
import { cutAtStop, heldBackLength, StopStringStream } from '../../src/engine/generate/stop-strings';
import { mulberry32 } from '../../src/engine/rng';
import type { LoadedModel } from '../../src/engine/model/load';
import { loadStories } from '../helpers/stories';

/** Random stop strings drawn from `text`: substrings at any offset, some with a tail that breaks the match. */
function randomStops(text: string, random: () => number): string[] {
  const n = 1 + Math.floor(random() * 3);
  return Array.from({ length: n }, () => {
    const at = Math.floor(random() * text.length);
    const len = 1 + Math.floor(random() * 12);
    const s = text.slice(at, at + len);
    return random() < 0.25 ? s + 'Zq' : s;
  }).filter((s) => s.length > 0);
}

/** What the decoder shows after each token: growing prefixes of `text` at random boundaries. */
function decodedPrefixes(text: string, random: () => number, partialChars: boolean): string[] {
  const out: string[] = [];
  for (let at = 0; at < text.length; ) {
    at = Math.min(text.length, at + 1 + Math.floor(random() * 4));
    // A multi-byte character not yet complete decodes to U+FFFD at the end.
    out.push(partialChars && at < text.length && random() < 0.3 ? text.slice(0, at) + '\uFFFD' : text.slice(0, at));
  }
  return out;
}

/**
 * The non-streaming answer: generation ends at the first token after which the text holds a
 * stop string, and the text is cut before the earliest one in it.
 */
function expectedCut(prefixes: string[], stops: string[]): string {
  const first = prefixes.find((p) => stops.some((s) => p.includes(s)));
  return cutAtStop(first ?? prefixes[prefixes.length - 1]!, stops);
}

function streamed(prefixes: string[], stops: string[]): { out: string; stopped: boolean } {
  const s = new StopStringStream(stops);
  let out = '';
  for (const full of prefixes) {
    const r = s.push(full);
    out += r.delta;
    if (r.stopped) return { out, stopped: true };
  }
  return { out: out + s.finish(prefixes[prefixes.length - 1]!), stopped: false };
}

describe('stop strings on a fake token stream', () => {
  const texts = [
    ' time, there was a little girl named Lily. She loved to play with her toys.',
    'aaaaabaaaabaaab abab ababab',
    'héllo wörld — ünïcode ☃ text ☃☃ end',
  ];

  it('the streamed text equals the text cut before the first stop string, over 3000 random cases', () => {
    const random = mulberry32(13);
    let cases = 0;
    for (const text of texts) {
      for (let i = 0; i < 1000; i++) {
        const stops = randomStops(text, random);
        const prefixes = decodedPrefixes(text, random, i % 2 === 1);
        const { out, stopped } = streamed(prefixes, stops);
        const expected = expectedCut(prefixes, stops);
        expect(out, `stops ${JSON.stringify(stops)}`).toBe(expected);
        expect(stopped).toBe(stops.some((st) => text.includes(st)));
        cases++;
      }
    }
    expect(cases).toBe(3000);
  });

  it('holds back only the longest tail that begins a stop string', () => {
    expect(heldBackLength(', there was a', ['there was a little'])).toBe(11);
    expect(heldBackLength('abab', ['abc', 'bab!'])).toBe(3);
    expect(heldBackLength('hello ', ['world'])).toBe(0);
    // The case: " a time, there was a" must not appear before " little" decides it.
    const s = new StopStringStream(['there was a little']);
    expect(s.push(' time, there was a').delta).toBe(' time, ');
    expect(s.push(' time, there was a little').delta).toBe('');
    expect(s.streamed).toBe(' time, ');
  });
});

describe('stop strings in real generation (stories260K, cpu, greedy)', () => {
  let m: LoadedModel;
  let full: string;
  /** The greedy continuation's text after each of its tokens. */
  let prefixes: string[];
  beforeAll(async () => {
    await tf.setBackend('cpu');
    m = await loadStories();
    const r = await generate(m.model, m.tokenizer, 'Once upon a', { maxNewTokens: 60 });
    full = r.text;
    const prompt = m.tokenizer.decode(r.promptIds, { skipSpecialTokens: true });
    prefixes = r.ids.map((_, k) => m.tokenizer.decode([...r.promptIds, ...r.ids.slice(0, k + 1)], { skipSpecialTokens: true }).slice(prompt.length));
    expect(prefixes[prefixes.length - 1]).toBe(full);
  });
  afterAll(() => m?.model.dispose());

  it('leaks no part of a stop string split over tokens ("there was a little")', async () => {
    const deltas: string[] = [];
    const r = await generate(m.model, m.tokenizer, 'Once upon a', { maxNewTokens: 60, stopStrings: ['there was a little'], onText: (d) => void deltas.push(d) });
    expect(r.finishReason).toBe('stop-string');
    expect(r.text).toBe(' time, ');
    expect(deltas.join('')).toBe(' time, ');
  });

  it('streamed = returned = the greedy text cut before the first stop string, for 40 random stop sets', async () => {
    expect(full.length).toBeGreaterThan(100);
    const random = mulberry32(7);
    for (let i = 0; i < 40; i++) {
      const stops = randomStops(full, random);
      const deltas: string[] = [];
      const r = await generate(m.model, m.tokenizer, 'Once upon a', { maxNewTokens: 60, stopStrings: stops, onText: (d) => void deltas.push(d) });
      const expected = expectedCut(prefixes, stops);
      expect(r.text, `stops ${JSON.stringify(stops)}`).toBe(expected);
      expect(deltas.join(''), `stops ${JSON.stringify(stops)}`).toBe(expected);
      expect(r.finishReason).toBe(stops.some((st) => full.includes(st)) ? 'stop-string' : 'length');
    }
  });
});
