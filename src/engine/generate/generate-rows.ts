// Several generations in one batch: each row its own prompt (left-padded), adapter on or off,
// and seeded stream; the same sampling for all. One decode step per token serves every row, so base
// and tuned answers (Compare) or several validation prompts cost about one generation. Each row
// streams its own text and ends on its own EOS, stop string or length while the others go on;
// a row's output is what `generate` gives for that prompt, adapter and seed alone.
import type { Decoder } from '../model/decoder';
import type { TextTokenizer } from '../model/tokenizer';
import type { LoraAdapter } from '../lora/lora';
import { mulberry32 } from '../rng';
import { nextTurn } from '../next-turn';
import type { SamplingOptions } from './sampling';
import { cutAtStop, StopStringStream } from './stop-strings';
import type { RowLogitsFactory } from './row-logits';
import { decodeRowLogits } from './decode-session';
import { sampleRows, type RowDraw, type SamplerChoice } from './sample-rows';
import { continuation, defaultStopIds, type FinishReason, type GenerateResult } from './generate';

export interface RowRequest {
  prompt: string | number[];
  /** Whether the options' adapter applies to this row. */
  adapter: boolean;
  /** This row's seed (default: the options' seed). */
  seed?: number;
}

export interface GenerateRowsOptions extends SamplingOptions {
  maxNewTokens: number;
  seed?: number;
  stopStrings?: string[];
  /** Defaults as in `generate`: the config's, the tokenizer's EOS and the end-of-turn token. */
  eosTokenIds?: number[];
  adapter?: LoraAdapter | null;
  /** Each new piece of a row's text; return false to end that row (the others go on). */
  onText?: (row: number, delta: string, tokenId: number) => void | boolean;
  signal?: AbortSignal;
  /** Where tokens are chosen (sample-rows.ts); default: on the device where the fused kernels run. */
  sampler?: SamplerChoice;
  /** How the next-token logits are computed (default: a decode session sized for this generation). */
  logits?: RowLogitsFactory;
}

export interface GenerateRowsResult {
  rows: GenerateResult[];
  /** Forward passes run: the prefill and one per step, shared by every row. */
  steps: number;
}

interface Row {
  promptIds: number[];
  promptText: string;
  ids: number[];
  stream: StopStringStream;
  draw: RowDraw & { active: boolean };
  finishReason: FinishReason;
  /** False once onText asked to stop: it hears nothing more. */
  listening: boolean;
  prefillMs: number;
  endMs: number;
}

export async function generateRows(model: Decoder, tokenizer: TextTokenizer, requests: readonly RowRequest[], opts: GenerateRowsOptions): Promise<GenerateRowsResult> {
  if (requests.length === 0) throw new Error('generateRows: no rows');
  const eos = new Set(opts.eosTokenIds ?? defaultStopIds(model, tokenizer));
  const stops = opts.stopStrings ?? [];
  const t0 = performance.now();
  const rows: Row[] = requests.map((r, i) => {
    const promptIds = typeof r.prompt === 'string' ? tokenizer.encode(r.prompt) : [...r.prompt];
    if (promptIds.length === 0) throw new Error(`generateRows: the prompt of row ${i} has no tokens`);
    const history = [...promptIds];
    return {
      promptIds,
      promptText: tokenizer.decode(promptIds, { skipSpecialTokens: true }),
      ids: [],
      stream: new StopStringStream(stops),
      draw: { history, random: mulberry32(r.seed ?? opts.seed ?? 0), active: true },
      finishReason: 'length',
      listening: true,
      prefillMs: 0,
      endMs: 0,
    };
  });
  const adapterRows = requests.map((r) => r.adapter);
  if (adapterRows.some(Boolean) && !opts.adapter) throw new Error('generateRows: a row asks for the adapter and none was given');
  const padId = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  // No row with the adapter: the steps need not carry it (the fused step then skips LoRA).
  const adapter = adapterRows.some(Boolean) ? opts.adapter : null;
  const source = (opts.logits ?? decodeRowLogits(opts.maxNewTokens))(model, { adapter, rows: adapterRows }, padId);
  const finish = (row: Row, reason: FinishReason) => {
    row.finishReason = reason;
    row.draw.active = false;
    row.endMs = performance.now() - t0;
  };
  let steps = 0;

  try {
    let last: number[] = [];
    for (let step = 0; step < opts.maxNewTokens && rows.some((r) => r.draw.active); step++) {
      await nextTurn();
      if (opts.signal?.aborted) {
        for (const r of rows) if (r.draw.active) finish(r, 'aborted');
        break;
      }
      // Finished rows still ride along (their token is ignored): the batch keeps its shape.
      const logits = step === 0 ? source.prefill(rows.map((r) => r.promptIds)) : source.step(last);
      steps++;
      let next: number[];
      try {
        next = await sampleRows(logits, rows.map((r) => r.draw), opts, opts.sampler);
      } finally {
        logits.dispose();
      }
      if (step === 0) for (const r of rows) r.prefillMs = performance.now() - t0;
      rows.forEach((r, i) => {
        if (!r.draw.active) return;
        const id = next[i]!;
        r.ids.push(id);
        (r.draw.history as number[]).push(id);
        if (eos.has(id)) return finish(r, 'eos');
        const { delta, stopped } = r.stream.push(continuation(tokenizer, r.promptIds, r.promptText, r.ids));
        if (delta && opts.onText?.(i, delta, id) === false) {
          r.listening = false;
          return finish(r, 'aborted');
        }
        if (stopped) finish(r, 'stop-string');
      });
      last = rows.map((r, i) => (next[i]! >= 0 ? next[i]! : (r.ids.at(-1) ?? padId)));
    }
  } finally {
    source.dispose();
  }
  const end = performance.now() - t0;
  return {
    steps,
    rows: rows.map((r, i) => {
      const text = cutAtStop(continuation(tokenizer, r.promptIds, r.promptText, r.ids), stops);
      // Held back in case it began a stop string; the row is over, so it did not.
      const rest = r.listening ? r.stream.finish(text) : '';
      if (rest) opts.onText?.(i, rest, r.ids.at(-1) ?? -1);
      const ms = r.draw.active ? end : r.endMs;
      return { promptIds: r.promptIds, ids: r.ids, text, finishReason: r.finishReason, prefillMs: r.prefillMs, decodeMs: ms - r.prefillMs };
    }),
  };
}
