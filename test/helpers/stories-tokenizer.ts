// The real stories260K tokenizer (Llama SentencePiece BPE, 512 tokens, BOS 1 prepended by
// encode, EOS 2, no chat template), loaded offline with transformers.js. A second wrapper adds a
// ChatML Jinja template, rendered by transformers.js itself, for chat-template tests.
import { dirname } from 'node:path';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { wrapTokenizer, type TextTokenizer } from '../../src/engine/model/tokenizer';
import { STORIES_DIR } from './paths';

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

let raw: Promise<PreTrainedTokenizer> | undefined;

function loadRaw(): Promise<PreTrainedTokenizer> {
  env.allowRemoteModels = false;
  env.localModelPath = dirname(STORIES_DIR) + '/';
  raw ??= AutoTokenizer.from_pretrained('stories260K');
  return raw;
}

export async function loadStoriesTokenizer(): Promise<TextTokenizer> {
  return wrapTokenizer(await loadRaw());
}

/** stories260K's tokenizer with a ChatML chat template (the model itself has none). */
export async function loadStoriesChatmlTokenizer(): Promise<TextTokenizer> {
  const tok = await loadRaw();
  return {
    ...wrapTokenizer(tok),
    chatTemplate: CHATML_TEMPLATE,
    applyChatTemplate: (messages, opts) =>
      tok.apply_chat_template(messages as never, {
        chat_template: CHATML_TEMPLATE,
        tokenize: false,
        add_generation_prompt: opts?.addGenerationPrompt ?? false,
      }) as unknown as string,
  };
}
