// The engine's view of a tokenizer: just what data prep and generation need.
// transformers.js provides the implementation (BPE, normalisers, Jinja chat templates);
// keeping this narrow interface lets tests use the real stories260K tokenizer everywhere.
import type { PreTrainedTokenizer } from '@huggingface/transformers';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

export interface TextTokenizer {
  /** Token ids; with addSpecialTokens (default true) the tokenizer's BOS handling applies. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly vocabSize: number;
  /** The Jinja chat template from tokenizer_config.json, or null when the model has none. */
  readonly chatTemplate: string | null;
  /** Renders messages with the model's chat template as text (throws when there is none). */
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;
  /** tokenizer.json and tokenizer_config.json as loaded, for writing a complete model folder. */
  readonly files?: { 'tokenizer.json': unknown; 'tokenizer_config.json': unknown };
}

export function wrapTokenizer(tok: PreTrainedTokenizer): TextTokenizer {
  const chatTemplate = typeof tok.chat_template === 'string' ? tok.chat_template : null;
  const t = tok as unknown as Record<string, unknown>;
  const id = (k: string) => (typeof t[k] === 'number' ? (t[k] as number) : null);
  return {
    encode: (text, opts) => tok.encode(text, { add_special_tokens: opts?.addSpecialTokens ?? true }),
    decode: (ids, opts) => tok.decode(ids, { skip_special_tokens: opts?.skipSpecialTokens ?? false }),
    bosTokenId: id('bos_token_id'),
    eosTokenId: id('eos_token_id'),
    padTokenId: id('pad_token_id'),
    vocabSize: vocabSize(tok.get_vocab() as unknown),
    chatTemplate,
    files: { 'tokenizer.json': tok._tokenizerJSON, 'tokenizer_config.json': tok._tokenizerConfig },
    applyChatTemplate(messages, opts) {
      if (!chatTemplate) throw new Error('this tokenizer has no chat template');
      return tok.apply_chat_template(messages as never, {
        tokenize: false,
        add_generation_prompt: opts?.addGenerationPrompt ?? false,
      }) as unknown as string;
    },
  };
}

function vocabSize(vocab: unknown): number {
  if (vocab instanceof Map) return vocab.size;
  return Object.keys(vocab as object).length;
}

const endOfTurnIds = new WeakMap<TextTokenizer, number | null>();

/**
 * The special token the chat template writes right after an assistant's answer (Gemma's
 * <end_of_turn>, ChatML's <|im_end|>, Llama 3's <|eot_id|>), or null when there is none. A model
 * trained on the template learns to write it, so generation stops there.
 */
export function endOfTurnTokenId(tok: TextTokenizer): number | null {
  if (endOfTurnIds.has(tok)) return endOfTurnIds.get(tok)!;
  let id: number | null = null;
  if (tok.chatTemplate) {
    const answer = 'WebLoRA answer';
    try {
      const text = tok.applyChatTemplate([
        { role: 'user', content: 'WebLoRA question' },
        { role: 'assistant', content: answer },
      ]);
      const at = text.lastIndexOf(answer);
      const first = at === -1 ? undefined : tok.encode(text.slice(at + answer.length), { addSpecialTokens: false })[0];
      // Special: it has text of its own, which skipSpecialTokens drops.
      if (first !== undefined && tok.decode([first], { skipSpecialTokens: true }) === '' && tok.decode([first]) !== '') id = first;
    } catch {
      // A template that refuses this conversation has no end-of-turn we can find.
    }
  }
  endOfTurnIds.set(tok, id);
  return id;
}
