// Tokens and loss mask for a rendered sample, following Hugging Face TRL: the whole text is
// tokenized in one pass (BOS from the tokenizer), each trained span is measured by tokenizing
// the text before it and through it, and EOS is appended as an id. When a prefix's tokens are
// not a prefix of the whole text's tokens (a merge across the boundary), the prefix's token
// count is used anyway, as TRL does, and a warning is collected.
import type { TextTokenizer } from '../model/tokenizer';
import { renderPrompt, type PromptTemplate, type Rendered } from './template';
import type { Conversation } from './types';

export type TrainOn = 'responses' | 'all';

export interface TokenizeOptions {
  maxLength: number;
  /** 'responses': loss on answers only (every assistant turn); 'all': on every token. */
  trainOn: TrainOn;
  /** Append the EOS id after the last answer, trained. */
  appendEos: boolean;
  /**
   * Cut the rendered text to this many characters before tokenizing: a record of megabytes
   * would take minutes to tokenize only to be truncated to maxLength tokens. Cut text counts as
   * truncated (no EOS is appended). Default: no cap.
   */
  maxChars?: number;
}

/** Characters per token allowed before a record is cut: tokens seldom span more than a few. */
export const CHARS_PER_TOKEN_CAP = 32;

export interface TokenizedSample {
  inputIds: number[];
  /** lossMask[t] = 1: token t is a trained target (the loss of position t - 1 counts). lossMask[0] = 0. */
  lossMask: number[];
  truncated: boolean;
  /** Length before truncation. */
  fullLength: number;
  /** Tokens before the first trained span (the prompt of a single-turn sample). */
  promptLength: number;
  /** Characters of the rendered text when it was cut to maxChars before tokenizing (else absent). */
  cutFromChars?: number;
  warnings: string[];
}

export function tokenizeRendered(full: Rendered, tok: TextTokenizer, opts: TokenizeOptions): TokenizedSample {
  const cut = opts.maxChars !== undefined && full.text.length > opts.maxChars;
  const r = cut ? capRendered(full, opts.maxChars!) : full;
  const cache = new Map<string, number[]>();
  const encode = (s: string) => {
    let ids = cache.get(s);
    if (!ids) cache.set(s, (ids = tok.encode(s, { addSpecialTokens: r.addSpecialTokens })));
    return ids;
  };
  const warnings: string[] = [];
  const inputIds = encode(r.text).slice();
  const lossMask = new Array<number>(inputIds.length).fill(0);
  let promptLength = inputIds.length;
  r.spans.forEach((span, k) => {
    const before = encode(span.before);
    const through = encode(span.through);
    if (!isPrefix(before, inputIds) || !isPrefix(through, inputIds)) {
      const which = r.spans.length > 1 ? ` (assistant turn ${k + 1})` : '';
      warnings.push(`prompt tokens are not a prefix of the prompt+response tokens${which}; the mask starts at the prompt's token count anyway`);
    }
    if (k === 0) promptLength = before.length;
    const end = Math.min(through.length, inputIds.length);
    for (let i = before.length; i < end; i++) lossMask[i] = 1;
  });
  if (opts.appendEos && tok.eosTokenId !== null && !cut) {
    inputIds.push(tok.eosTokenId);
    lossMask.push(1);
  }
  if (opts.trainOn === 'all') lossMask.fill(1);
  // Nothing predicts the first token, so it can never be a target.
  if (lossMask.length > 0) lossMask[0] = 0;

  const fullLength = inputIds.length;
  const truncated = cut || fullLength > opts.maxLength;
  if (fullLength > opts.maxLength) {
    inputIds.length = opts.maxLength;
    lossMask.length = opts.maxLength;
  }
  return { inputIds, lossMask, truncated, fullLength, promptLength, warnings, ...(cut ? { cutFromChars: full.text.length } : {}) };
}

/** The rendered text and its trained spans' bounds, each cut to `maxChars`. */
function capRendered(r: Rendered, maxChars: number): Rendered {
  return { ...r, text: r.text.slice(0, maxChars), spans: r.spans.map((s) => ({ ...s, before: s.before.slice(0, maxChars), through: s.through.slice(0, maxChars) })) };
}

function isPrefix(a: number[], b: number[]): boolean {
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The EOS token as text, for writing it inside a multi-turn text (template.ts), or null when
 * it does not tokenize back to the EOS id (then it could not be trained as EOS).
 */
export function eosTextOf(tok: TextTokenizer): string | null {
  if (tok.eosTokenId === null) return null;
  const text = tok.decode([tok.eosTokenId], { skipSpecialTokens: false });
  const back = tok.encode(text, { addSpecialTokens: false });
  return back.length === 1 && back[0] === tok.eosTokenId ? text : null;
}

/**
 * Token ids of a generation prompt in the format training used (BOS from the tokenizer for
 * text templates; a chat template writes its own). `appendEos` must match training's.
 */
export function encodePrompt(conv: Conversation, tok: TextTokenizer, template: PromptTemplate, appendEos = true): number[] {
  const eosText = template !== 'chat-template' && appendEos ? eosTextOf(tok) : null;
  return tok.encode(renderPrompt(conv, tok, template, eosText), { addSpecialTokens: template !== 'chat-template' });
}

/** An example's prompt, for generating its answer: the ids before its first trained target. */
export function promptIdsOf(e: Pick<TokenizedSample, 'inputIds' | 'lossMask'>): number[] {
  const first = e.lossMask.indexOf(1);
  if (first > 1 && first < e.inputIds.length) return e.inputIds.slice(0, first);
  // Plain text, trained on every token: give the model the first few tokens to continue.
  return e.inputIds.slice(0, Math.max(1, Math.min(16, Math.floor(e.inputIds.length / 2))));
}
