// Autoregressive generation: one prefill over the prompt, then one token per step reusing
// the KV cache — a decode session (decode-session.ts: the cache preallocated, the fused decode
// step on WebGPU) — or, with useCache false, the whole sequence again (the reference the cache
// is tested against). Text is streamed as deltas of the decoded continuation, so multi-token
// characters (byte fallback) appear only once complete, and text that may begin a stop string
// only once it cannot (stop-strings.ts).
import { tf } from '../tf';
import type { Decoder } from '../model/decoder';
import { endOfTurnTokenId, type TextTokenizer } from '../model/tokenizer';
import type { LoraAdapter } from '../lora/lora';
import { mulberry32 } from '../rng';
import type { SamplingOptions } from './sampling';
import { sampleRows } from './sample-rows';
import { nextTurn } from '../next-turn';
import { cutAtStop, StopStringStream } from './stop-strings';
import { createDecodeSession } from './decode-session';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  seed?: number;
  /** Generation ends when the continuation contains one of these (it is cut before it). */
  stopStrings?: string[];
  /** Defaults to the config's eos_token_id(s) (generation_config.json's included), the tokenizer's EOS and the chat template's end-of-turn token. */
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
  model: Decoder,
  tokenizer: TextTokenizer,
  prompt: string | number[],
  opts: GenerateOptions,
): Promise<GenerateResult> {
  const promptIds = typeof prompt === 'string' ? tokenizer.encode(prompt) : [...prompt];
  if (promptIds.length === 0) throw new Error('generate: the prompt has no tokens');
  const eos = new Set(opts.eosTokenIds ?? defaultStopIds(model, tokenizer));
  const random = mulberry32(opts.seed ?? 0);
  const useCache = opts.useCache ?? true;
  const promptText = tokenizer.decode(promptIds, { skipSpecialTokens: true });
  const ids: number[] = [];
  // With the cache: a decode session (decode-session.ts; fused on WebGPU) sized for this generation.
  const session = useCache && opts.maxNewTokens > 0 ? createDecodeSession(model, { rows: 1, capacity: promptIds.length + opts.maxNewTokens, adapter: opts.adapter }) : null;
  const stops = opts.stopStrings ?? [];
  const stream = new StopStringStream(stops);
  /** False once onText asked to stop: it hears nothing more. */
  let listening = true;
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
      const row = session ? (step === 0 ? session.prefill([promptIds]) : session.step([ids[ids.length - 1]!])) : recomputed(model, all, opts.adapter);
      // On the device where the fused kernels run (only the id comes back), else on the host.
      let id: number;
      try {
        [id] = (await sampleRows(row, [{ history: all, random, active: true }], opts)) as [number];
      } finally {
        row.dispose();
      }
      if (step === 0) prefillMs = performance.now() - t0;

      ids.push(id);
      if (eos.has(id)) {
        finishReason = 'eos';
        break;
      }
      const { delta, stopped } = stream.push(continuation(tokenizer, promptIds, promptText, ids));
      if (delta && opts.onText?.(delta, id) === false) {
        finishReason = 'aborted';
        listening = false;
        break;
      }
      if (stopped) {
        finishReason = 'stop-string';
        break;
      }
    }
  } finally {
    session?.dispose();
  }
  const text = cutAtStop(continuation(tokenizer, promptIds, promptText, ids), stops);
  // Held back in case it began a stop string; generation is over, so it did not.
  const rest = listening ? stream.finish(text) : '';
  if (rest) opts.onText?.(rest, ids[ids.length - 1] ?? -1);
  return { promptIds, ids, text, finishReason, prefillMs, decodeMs: performance.now() - t0 - prefillMs };
}

/**
 * The text the new ids add to the prompt. Decoding them alone would drop the space a
 * SentencePiece tokenizer puts before a word that starts the decoded text ("Once upon a" +
 * " time" would stream as "time"); decoding prompt + continuation and cutting off the decoded
 * prompt keeps it.
 */
export function continuation(tokenizer: TextTokenizer, promptIds: number[], prompt: string, ids: number[]): string {
  const full = tokenizer.decode([...promptIds, ...ids], { skipSpecialTokens: true });
  return full.startsWith(prompt) ? full.slice(prompt.length) : tokenizer.decode(ids, { skipSpecialTokens: true });
}

/** Next-token logits by running the whole sequence again (no cache). */
function recomputed(model: Decoder, all: number[], adapter: LoraAdapter | null | undefined): tf.Tensor2D {
  return tf.tidy(() => {
    const { hidden } = model.forward(tf.tensor2d(all, [1, all.length], 'int32'), { adapter });
    return model.logits(hidden.slice([0, all.length - 1, 0], [1, 1, -1])).reshape([1, -1]);
  });
}

/** What ends a generation unless the caller says otherwise. */
export function defaultStopIds(model: Decoder, tokenizer: TextTokenizer): number[] {
  const ids = [...model.config.eosTokenIds, tokenizer.eosTokenId, endOfTurnTokenId(tokenizer)];
  return ids.filter((id): id is number => id !== null);
}
