// The engine's long phases let the event loop run and can be stopped (issue 13, item 2), in the
// browser-safe way the worker and the CLI both use: an AbortSignal, and a turn of the event loop
// every few dozen records while tokenizing and every batch while evaluating. Before, both were
// one unbroken chain of work: a timer (or Ctrl-C, or a worker's cancel message) waited for the end.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareDataset } from '../../src/engine/data';
import type { LoadedModel } from '../../src/engine/model/load';
import { evaluate } from '../../src/engine/train/evaluate';
import { padIdOf } from '../../src/engine/data/batches';
import { initBackend } from '../../src/engine/backend';
import { loadStories } from '../helpers/stories';
import { STORY_INSTRUCT } from '../helpers/story-data';

let m: LoadedModel;
let text: string;
beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
  m = await loadStories();
  text = await readFile(STORY_INSTRUCT, 'utf8');
});

/** Aborts `c` from a timer: it can only fire if the work gives the event loop a turn. */
function abortFromTimer(c: AbortController): { fired: () => boolean } {
  let fired = false;
  setTimeout(() => {
    fired = true;
    c.abort();
  }, 0);
  return { fired: () => fired };
}

describe('AbortSignal through the long phases', () => {
  it('tokenizing yields to the event loop and stops when aborted', async () => {
    const c = new AbortController();
    const timer = abortFromTimer(c);
    let progressAtStop = 0;
    const run = prepareDataset({ name: 'train.jsonl', source: text }, m.tokenizer, {
      maxLength: 128,
      signal: c.signal,
      onProgress: (done) => void (progressAtStop = done),
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(timer.fired()).toBe(true);
    expect(progressAtStop).toBeLessThan(600); // stopped before the 600 records were done
  });

  it('evaluation yields every batch and stops when aborted', async () => {
    const prepared = await prepareDataset({ name: 'train.jsonl', source: text }, m.tokenizer, { maxLength: 64 });
    const o = { batchSize: 4, maxLength: 64, padId: padIdOf(m.tokenizer) };
    const c = new AbortController();
    const timer = abortFromTimer(c);
    await expect(evaluate(m.model, null, prepared.train.slice(0, 40), { ...o, signal: c.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(timer.fired()).toBe(true);
    // Without a signal the same call runs to the end, to a finite loss.
    expect(Number.isFinite(await evaluate(m.model, null, prepared.train.slice(0, 8), o))).toBe(true);
  });
});
