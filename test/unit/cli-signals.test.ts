// Ctrl-C and SIGTERM stop every long phase promptly (issue 13, item 2), through real processes
// and real signals: evaluation and tokenizing yield to the event loop (before, eval ran to its
// end and exited 0, and tokenizing held Ctrl-C for the whole file), generation stops, and
// training writes its checkpoint for SIGTERM as for Ctrl-C, with 130 for SIGINT and 143 for
// SIGTERM. "Promptly" is within 2 s here: one batch of one short example, on a loaded machine.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from '../helpers/cli-run';
import { spawnCli } from '../helpers/cli-spawn';
import { DATA_DIR, STORIES_DIR } from '../helpers/paths';

const GSM8K_TEST = join(DATA_DIR, 'gsm8k/test.jsonl');
const GSM8K_TRAIN = join(DATA_DIR, 'gsm8k/train.jsonl');
const STORY_DATA = join(DATA_DIR, 'story-instruct/train.jsonl');
// 1,319 examples one at a time: minutes of evaluation, a fraction of a second per batch.
const EVAL_GSM8K = ['eval', '--model', STORIES_DIR, '--data', GSM8K_TEST, '--columns', 'prompt=question,response=answer', '--batch', '1', '--max-len', '32', '--train-on', 'all', '--backend', 'cpu'];
const PROMPT_MS = 2000;
const SLOW = 300_000;

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'weblora-signals-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('eval', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s during evaluation stops it within 2 s, exit %i', async (signal, code) => {
    // The data report is printed when evaluation starts.
    const r = await spawnCli(EVAL_GSM8K, { when: /^template /m, delayMs: 300, signal });
    expect(r.stoppedAfterMs, r.stderr).not.toBeNull();
    expect(r.code, r.stderr).toBe(code);
    expect(r.stoppedAfterMs!).toBeLessThan(PROMPT_MS);
    expect(r.stdout).not.toMatch(/loss/); // stopped, not finished
    expect(r.stderr).toMatch(signal === 'SIGINT' ? /\ninterrupted: evaluation stopped before the end\n$/ : /\nterminated: evaluation stopped before the end\n$/);
  }, SLOW);
});

describe('data preparation', () => {
  it('Ctrl-C while tokenizing stops within 2 s, exit 130', async () => {
    // gsm8k's 7,473 training records take many seconds to tokenize; the progress line shows
    // tokenizing is under way.
    const r = await spawnCli(['eval', '--model', STORIES_DIR, '--data', GSM8K_TRAIN, '--max-len', '64', '--backend', 'cpu'], { when: /^tokenizing: /m });
    expect(r.stoppedAfterMs, r.stderr).not.toBeNull();
    expect(r.code, r.stderr).toBe(130);
    expect(r.stoppedAfterMs!).toBeLessThan(PROMPT_MS);
    expect(r.stderr).not.toMatch(/^template /m); // the report never came: it stopped while tokenizing
  }, SLOW);

  it('SIGTERM while tokenizing for train stops within 2 s, exit 143, and leaves --out unlocked', async () => {
    const out = join(tmp, 'tokenizing');
    const r = await spawnCli(['train', '--model', STORIES_DIR, '--data', GSM8K_TRAIN, '--max-len', '64', '--backend', 'cpu', '--out', out], { when: /^tokenizing: /m, signal: 'SIGTERM' });
    expect(r.code, r.stderr).toBe(143);
    expect(r.stoppedAfterMs!).toBeLessThan(PROMPT_MS);
    expect(existsSync(join(out, '.weblora.lock'))).toBe(false);
  }, SLOW);
});

describe('generate', () => {
  it('SIGTERM while generating ends the text, exit 143', async () => {
    const r = await spawnCli(['generate', '--model', STORIES_DIR, '--prompt', 'Once upon a time', '--max-new-tokens', '400', '--greedy', '--backend', 'cpu'], {
      when: /Once upon a time[^\n]*\w/,
      signal: 'SIGTERM',
    });
    expect(r.code, r.stderr).toBe(143);
    expect(r.stoppedAfterMs!).toBeLessThan(PROMPT_MS);
    expect(r.stderr).toMatch(/finished by aborted/);
  }, SLOW);
});

describe('train', () => {
  it('SIGTERM writes a checkpoint like Ctrl-C (exit 143); while it runs a second run on its --out is refused; --resume then finishes it', async () => {
    const out = join(tmp, 'sigterm');
    const flags = ['train', '--model', STORIES_DIR, '--data', STORY_DATA, '--max-steps', '10', '--batch', '2', '--max-len', '64', '--backend', 'cpu', '--out', out];
    let second: Promise<Awaited<ReturnType<typeof runCliInProcess>>> | null = null;
    const r = await spawnCli(flags, {
      when: /^step +2\/10 /m,
      signal: 'SIGTERM',
      onOutput: (all) => {
        // The child holds --out from before step 1: a second run, or a resume, is refused.
        if (!second && /^step +1\/10 /m.test(all)) second = runCliInProcess([...flags, '--resume']);
      },
    });
    const refused = await second!;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--resume: the run in .* is still going: another run \(weblora train, pid \d+ on /);
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/terminated \(SIGTERM\): stopping after step \d+ to write a checkpoint/);
    expect(r.stderr).toMatch(/stopped at step \d+ of 10: checkpoint in /);
    const checkpoint = JSON.parse(await readFile(join(out, 'checkpoint', 'checkpoint.json'), 'utf8'));
    expect(checkpoint.step).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(out, '.weblora.lock'))).toBe(false);
    const resumed = await runCliInProcess([...flags, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming at step ${checkpoint.step} of 10`);
  }, SLOW);
});
