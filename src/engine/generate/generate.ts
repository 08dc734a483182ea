// Autoregressive generation: one prefill over the prompt, then one token per step reusing
// the KV cache (or, with useCache false, the whole sequence again — the reference the cache
// is tested against). Text is streamed as deltas of the decoded continuation, so multi-token
// characters (byte fallback) appear only once complete.
import { tf } from '../tf';
import type { LlamaModel, PastKeyValues } from '../model/llama';
import type { TextTokenizer } from '../model/tokenizer';
import type { LoraAdapter } from '../lora/lora';
import { mulberry32 } from '../rng';
import { sampleToken, type SamplingOptions } from './sampling';
import { nextTurn } from '../next-turn';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  seed?: number;
  /** Generation ends when the continuation contains one of these (it is cut before it). */
  stopStrings?: string[];
  /** Defaults to the tokenizer's EOS and the config's eos_token_id(s). */
  eosTokenIds?: number[];
  useCache?: boolean;
  adapter?: LoraAdapter | null;
  /** Called with each new piece of text; return false to stop. */
  onText?: (delta: string, tokenId: number) => void | boolean;
  signal?: AbortSignal;
}

export type FinishReason = 'eos' | 'stop-string' | 'length' | 'aborted';

export interface GenerateResult {
  promptIds: number[];
  /** Generated ids only (EOS included when it ended the text). */
  ids: number[];
  text: string;
  finishReason: FinishReason;
  prefillMs: number;
  decodeMs: number;
}

export async function generate(
  model: LlamaModel,
  tokenizer: TextTokenizer,
  prompt: string | number[],
  opts: GenerateOptions,
): Promise<GenerateResult> {
  const promptIds = typeof prompt === 'string' ? tokenizer.encode(prompt) : [...prompt];
  if (promptIds.length === 0) throw new Error('generate: the prompt has no tokens');
  const eos = new Set(opts.eosTokenIds ?? [...model.config.eosTokenIds, ...(tokenizer.eosTokenId === null ? [] : [tokenizer.eosTokenId])]);
  const random = mulberry32(opts.seed ?? 0);
  const useCache = opts.useCache ?? true;
  const promptText = tokenizer.decode(promptIds, { skipSpecialTokens: true });
  const ids: number[] = [];
  let past: PastKeyValues | undefined;
  let text = '';
  let finishReason: FinishReason = 'length';
  let prefillMs = 0;
  const t0 = performance.now();

  try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      await nextTurn();
      if (opts.signal?.aborted) {
        finishReason = 'aborted';
        break;
      }
      const all = [...promptIds, ...ids];
      const input = useCache && past ? [all[all.length - 1]] : all;
      const out = tf.tidy(() => {
        const x = tf.tensor2d(input, [1, input.length], 'int32');
        const { hidden, present } = model.forward(x, { past: useCache ? past : undefined, adapter: opts.adapter });
        const last = hidden.slice([0, input.length - 1, 0], [1, 1, -1]);
        return { row: model.logits(last).reshape([-1]), present };
      });
      const logits = (await out.row.data()) as Float32Array;
      out.row.dispose();
      if (useCache) {
        disposePast(past);
        past = out.present;
      } else disposePast(out.present);
      if (step === 0) prefillMs = performance.now() - t0;

      const id = sampleToken(logits, all, opts, random);
      ids.push(id);
      if (eos.has(id)) {
        finishReason = 'eos';
        break;
      }
      const full = continuation(tokenizer, promptIds, promptText, ids);
      const stop = firstStop(full, opts.stopStrings);
      const visible = stop === -1 ? full : full.slice(0, stop);
      // A partial UTF-8 sequence decodes to U+FFFD until its last byte arrives: hold it back.
      const settled = visible.endsWith('\uFFFD') ? text : visible;
      // Deltas only ever extend what was streamed; should decoding rewrite earlier text, the
      // stream waits and the result's text is the truth.
      const delta = settled.startsWith(text) ? settled.slice(text.length) : '';
      text += delta;
      if (delta && opts.onText?.(delta, id) === false) {
        finishReason = 'aborted';
        break;
      }
      if (stop !== -1) {
        text = visible;
        finishReason = 'stop-string';
        break;
      }
    }
  } finally {
    disposePast(past);
  }
  if (finishReason !== 'stop-string') text = continuation(tokenizer, promptIds, promptText, ids);
  return { promptIds, ids, text, finishReason, prefillMs, decodeMs: performance.now() - t0 - prefillMs };
}

/**
 * The text the new ids add to the prompt. Decoding them alone would drop the space a
 * SentencePiece tokenizer puts before a word that starts the decoded text ("Once upon a" +
 * " time" would stream as "time"); decoding prompt + continuation and cutting off the decoded
 * prompt keeps it.
 */
function continuation(tokenizer: TextTokenizer, promptIds: number[], prompt: string, ids: number[]): string {
  const full = tokenizer.decode([...promptIds, ...ids], { skipSpecialTokens: true });
  return full.startsWith(prompt) ? full.slice(prompt.length) : tokenizer.decode(ids, { skipSpecialTokens: true });
}

function firstStop(text: string, stops: string[] | undefined): number {
  let at = -1;
  for (const s of stops ?? []) {
    const i = s ? text.indexOf(s) : -1;
    if (i !== -1 && (at === -1 || i < at)) at = i;
  }
  return at;
}

function disposePast(past: PastKeyValues | undefined): void {
  if (!past) return;
  for (const t of [...past.keys, ...past.values]) t.dispose();
}
