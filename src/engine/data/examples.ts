// Samples to training examples: render with the template, tokenize with the loss mask, truncate.
// An example that ends up with no trained token (truncation cut every response token, or a
// template failed on it) is excluded with a reason, never silently.
import type { TextTokenizer } from '../model/tokenizer';
import type { SourcedSample } from './load';
import { renderSample, type PromptTemplate } from './template';
import { CHARS_PER_TOKEN_CAP, eosTextOf, tokenizeRendered, type TrainOn } from './tokenize';
import type { DataIssue, TokenizedExample } from './types';
import { nextTurn } from '../next-turn';

export interface ExampleOptions {
  template: PromptTemplate;
  maxLength: number;
  trainOn: TrainOn;
  /**
   * Append EOS (trained) after the last answer, and write it after earlier answers of a
   * multi-turn text-template sample. Default: yes for text templates and text samples; no with
   * the tokenizer's chat template, whose own end-of-turn marker is what the model must learn.
   */
  appendEos?: boolean;
  /** Called now and then while tokenizing (tokenizing thousands of samples takes seconds). */
  onProgress?: (done: number, total: number) => void;
}

export interface BuiltExamples {
  examples: TokenizedExample[];
  /** Token length of every sample before truncation, excluded ones too (for a histogram). */
  lengths: number[];
  truncated: DataIssue[];
  dropped: DataIssue[];
  warnings: DataIssue[];
}

export function buildExamples(samples: readonly SourcedSample[], tok: TextTokenizer, opts: ExampleOptions): BuiltExamples {
  const steps = buildSteps(samples, tok, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Samples tokenized between two turns of the event loop in buildExamplesAsync. */
const SAMPLES_PER_TURN = 64;

/**
 * buildExamples, letting the event loop run every few dozen samples: tokenizing a large dataset
 * takes seconds to minutes, during which Ctrl-C, a cancel message or the UI must still land.
 * Aborting `signal` stops it there (the promise rejects with an AbortError).
 */
export async function buildExamplesAsync(
  samples: readonly SourcedSample[],
  tok: TextTokenizer,
  opts: ExampleOptions & { signal?: AbortSignal },
): Promise<BuiltExamples> {
  const steps = buildSteps(samples, tok, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await nextTurn();
    opts.signal?.throwIfAborted();
  }
}

/** The work of buildExamples; yields every SAMPLES_PER_TURN samples. */
function* buildSteps(samples: readonly SourcedSample[], tok: TextTokenizer, opts: ExampleOptions): Generator<void, BuiltExamples> {
  if (!(opts.maxLength >= 2)) throw new Error(`maxLength must be >= 2, got ${opts.maxLength}`);
  const out: BuiltExamples = { examples: [], lengths: [], truncated: [], dropped: [], warnings: [] };
  const textTemplate = opts.template !== 'chat-template';
  const eosText = (opts.appendEos ?? textTemplate) ? eosTextOf(tok) : null;
  let warnedEos = false;

  for (let i = 0; i < samples.length; i++) {
    const { file, line, sample } = samples[i]!;
    if (i % 256 === 0) opts.onProgress?.(i, samples.length);
    if (i > 0 && i % SAMPLES_PER_TURN === 0) yield;
    const multiTurn = sample.kind === 'conversation' && sample.conversation.turns.filter((t) => t.role === 'assistant').length > 1;
    if (multiTurn && textTemplate && (opts.appendEos ?? true) && eosText === null && !warnedEos) {
      warnedEos = true;
      out.warnings.push({ file, line: 0, reason: 'the EOS token has no text form that tokenizes back to it: only the last answer of a multi-turn sample ends with EOS' });
    }
    let t;
    try {
      const rendered = renderSample(sample, tok, { template: opts.template, eosText });
      const appendEos = opts.appendEos ?? (textTemplate || sample.kind === 'text');
      t = tokenizeRendered(rendered, tok, { maxLength: opts.maxLength, trainOn: opts.trainOn, appendEos, maxChars: opts.maxLength * CHARS_PER_TOKEN_CAP });
    } catch (err) {
      out.dropped.push({ file, line, reason: `could not render or tokenize: ${(err as Error).message}` });
      continue;
    }
    out.lengths.push(t.fullLength);
    for (const w of t.warnings) out.warnings.push({ file, line, reason: w });
    if (t.cutFromChars !== undefined) {
      out.warnings.push({ file, line, reason: `${t.cutFromChars.toLocaleString('en-US')} characters, far more than ${opts.maxLength} tokens can hold: cut to ${(opts.maxLength * CHARS_PER_TOKEN_CAP).toLocaleString('en-US')} characters before tokenizing, then truncated` });
    }
    if (t.truncated) out.truncated.push({ file, line, reason: `truncated from ${t.fullLength} to ${opts.maxLength} tokens` });
    if (!t.lossMask.includes(1)) {
      out.dropped.push({
        file,
        line,
        reason: t.truncated
          ? `truncation to maxLength ${opts.maxLength} removed every response token (the prompt alone is ${t.promptLength} tokens, the sample ${t.fullLength})`
          : 'no trained tokens',
      });
      continue;
    }
    out.examples.push({ inputIds: t.inputIds, lossMask: t.lossMask, truncated: t.truncated, file, line });
  }
  opts.onProgress?.(samples.length, samples.length);
  return out;
}
