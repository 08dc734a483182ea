// Prompt building: a Sample becomes text plus the places where trained spans begin and end.
// The tokenizer's own chat template is used when it has one; otherwise one of a few text
// templates. Spans are given as text prefixes ("everything before the answer", "everything
// through it") because tokenize.ts measures them by tokenizing those prefixes (TRL's way).
import type { ChatMessage, TextTokenizer } from '../model/tokenizer';
import type { Conversation, Sample, Turn } from './types';

export const TEXT_TEMPLATES = ['alpaca', 'chatml', 'plain', 'raw'] as const;
export type TextTemplateName = (typeof TEXT_TEMPLATES)[number];
/** 'chat-template' = the tokenizer's Jinja template; the others are rendered here. */
export type PromptTemplate = 'chat-template' | TextTemplateName;

export interface TrainedSpan {
  /** The text before the trained part (the prompt, for a single-turn sample). */
  before: string;
  /** The text through the end of the trained part. */
  through: string;
}

export interface Rendered {
  text: string;
  spans: TrainedSpan[];
  /** Chat templates write their own BOS (as Hugging Face's apply_chat_template assumes); text templates rely on encode(). */
  addSpecialTokens: boolean;
}

interface TextTemplate {
  system(s: string): string;
  user(t: Turn): string;
  /** Untrained: the generation prompt an answer follows. */
  assistantHeader: string;
  /** Trained: the end-of-answer marker the model must learn to write. */
  assistantEnd: string;
  /** Untrained: between an answer and the turn after it. */
  separator: string;
}

const withInput = (t: Turn) => (t.input ? `${t.content}\n\n${t.input}` : t.content);

const TEMPLATES: Record<TextTemplateName, TextTemplate> = {
  // The Alpaca template without its preamble, as src/engine/README.md gives it; a system text
  // goes first, followed by a blank line.
  alpaca: {
    system: (s) => `${s}\n\n`,
    user: (t) => `### Instruction:\n${t.content}\n\n${t.input ? `### Input:\n${t.input}\n\n` : ''}`,
    assistantHeader: '### Response:\n',
    assistantEnd: '',
    separator: '\n\n',
  },
  // ChatML as plain text, for models that have no template of their own.
  chatml: {
    system: (s) => `<|im_start|>system\n${s}<|im_end|>\n`,
    user: (t) => `<|im_start|>user\n${withInput(t)}<|im_end|>\n`,
    assistantHeader: '<|im_start|>assistant\n',
    assistantEnd: '<|im_end|>',
    separator: '\n',
  },
  plain: {
    system: (s) => `${s}\n\n`,
    user: (t) => `User: ${withInput(t)}\n`,
    assistantHeader: 'Assistant: ',
    assistantEnd: '',
    separator: '\n',
  },
  // Prompt and answer back to back, as TRL does for {prompt, completion} text.
  raw: {
    system: (s) => `${s}\n\n`,
    user: (t) => withInput(t),
    assistantHeader: '',
    assistantEnd: '',
    separator: '',
  },
};

export function resolveTemplate(requested: 'auto' | PromptTemplate, tok: TextTokenizer): PromptTemplate {
  if (requested === 'auto') return tok.chatTemplate ? 'chat-template' : 'alpaca';
  if (requested === 'chat-template' && !tok.chatTemplate) throw new Error('this tokenizer has no chat template');
  return requested;
}

export interface RenderOptions {
  template: PromptTemplate;
  /**
   * Text of the EOS token, written after every answer but the last with text templates, so a
   * multi-turn sample is still tokenized in one pass (the last answer gets EOS as an id, in
   * tokenize.ts). Null: no EOS inside the text.
   */
  eosText: string | null;
}

export function renderSample(sample: Sample, tok: TextTokenizer, opts: RenderOptions): Rendered {
  if (sample.kind === 'text') {
    return { text: sample.text, spans: [{ before: '', through: sample.text }], addSpecialTokens: true };
  }
  if (opts.template === 'chat-template') return renderWithChatTemplate(sample.conversation, tok);
  return renderWithText(sample.conversation, TEMPLATES[opts.template], opts.eosText);
}

function renderWithText(conv: Conversation, tpl: TextTemplate, eosText: string | null): Rendered {
  let text = conv.system ? tpl.system(conv.system) : '';
  const spans: TrainedSpan[] = [];
  const last = conv.turns.length - 1;
  conv.turns.forEach((t, i) => {
    if (i > 0 && conv.turns[i - 1]!.role === 'assistant') text += tpl.separator;
    if (t.role === 'user') {
      text += tpl.user(t);
      return;
    }
    text += tpl.assistantHeader;
    const before = text;
    text += t.content + tpl.assistantEnd;
    if (eosText && i < last) text += eosText;
    spans.push({ before, through: text });
  });
  return { text, spans, addSpecialTokens: true };
}

function renderWithChatTemplate(conv: Conversation, tok: TextTokenizer): Rendered {
  const messages = toMessages(conv);
  const spans: TrainedSpan[] = [];
  messages.forEach((m, j) => {
    if (m.role !== 'assistant') return;
    spans.push({
      before: tok.applyChatTemplate(messages.slice(0, j), { addGenerationPrompt: true }),
      through: tok.applyChatTemplate(messages.slice(0, j + 1)),
    });
  });
  return { text: tok.applyChatTemplate(messages), spans, addSpecialTokens: false };
}

export function toMessages(conv: Conversation): ChatMessage[] {
  const messages: ChatMessage[] = conv.system ? [{ role: 'system', content: conv.system }] : [];
  for (const t of conv.turns) messages.push({ role: t.role, content: withInput(t) });
  return messages;
}

/**
 * The text a model is given at generation time, in the same format it was trained on: the
 * conversation so far followed by the assistant's header. Encode it with
 * `addSpecialTokens: template !== 'chat-template'`.
 */
export function renderPrompt(conv: Conversation, tok: TextTokenizer, template: PromptTemplate, eosText: string | null = null): string {
  if (template === 'chat-template') return tok.applyChatTemplate(toMessages(conv), { addGenerationPrompt: true });
  const tpl = TEMPLATES[template];
  const turns = conv.turns;
  const rendered = renderWithText({ ...conv, turns: [...turns, { role: 'assistant', content: '' }] }, tpl, eosText);
  return rendered.spans[rendered.spans.length - 1]!.before;
}
