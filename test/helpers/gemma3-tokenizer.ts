// A tokenizer with Gemma 3's chat template and turn tokens, for tests without Gemma's 262k
// vocabulary: the real stories260K tokenizer (../shared) with <start_of_turn> (512) and
// <end_of_turn> (513) added as special tokens, built by transformers.js as a model folder's
// files are (source-tokenizer.ts).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tokenizerFromJson } from '../../src/engine/model/source/source-tokenizer';
import { wrapTokenizer, type TextTokenizer } from '../../src/engine/model/tokenizer';
import { STORIES_DIR } from './paths';

export const START_OF_TURN = 512;
export const END_OF_TURN = 513;

/**
 * google/gemma-3-270m-it's chat_template (tokenizer_config.json), transcribed: the system text
 * prefixes the first user turn, the assistant's role is "model", content is trimmed, and every
 * turn ends with <end_of_turn> and a newline.
 */
export const GEMMA3_CHAT_TEMPLATE =
  "{{ bos_token }}\n{%- if messages[0]['role'] == 'system' -%}\n    {%- if messages[0]['content'] is string -%}\n        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n    {%- else -%}\n        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n    {%- endif -%}\n    {%- set loop_messages = messages[1:] -%}\n{%- else -%}\n    {%- set first_user_prefix = \"\" -%}\n    {%- set loop_messages = messages -%}\n{%- endif -%}\n{%- for message in loop_messages -%}\n    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n    {%- endif -%}\n    {%- if (message['role'] == 'assistant') -%}\n        {%- set role = \"model\" -%}\n    {%- else -%}\n        {%- set role = message['role'] -%}\n    {%- endif -%}\n    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n    {%- if message['content'] is string -%}\n        {{ message['content'] | trim }}\n    {%- elif message['content'] is iterable -%}\n        {%- for item in message['content'] -%}\n            {%- if item['type'] == 'image' -%}\n                {{ '<start_of_image>' }}\n            {%- elif item['type'] == 'text' -%}\n                {{ item['text'] | trim }}\n            {%- endif -%}\n        {%- endfor -%}\n    {%- else -%}\n        {{ raise_exception(\"Invalid content type\") }}\n    {%- endif -%}\n    {{ '<end_of_turn>\n' }}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n    {{'<start_of_turn>model\n'}}\n{%- endif -%}\n";

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/** tokenizer.json and tokenizer_config.json, as a model folder holds them. */
export async function gemmaTurnTokenizerFiles(): Promise<{ json: Record<string, unknown>; config: Record<string, unknown> }> {
  const json = JSON.parse(await readFile(join(STORIES_DIR, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(await readFile(join(STORIES_DIR, 'tokenizer_config.json'), 'utf8'));
  json.added_tokens.push(special(START_OF_TURN, '<start_of_turn>'), special(END_OF_TURN, '<end_of_turn>'));
  config.added_tokens_decoder[START_OF_TURN] = special(START_OF_TURN, '<start_of_turn>');
  config.added_tokens_decoder[END_OF_TURN] = special(END_OF_TURN, '<end_of_turn>');
  config.chat_template = GEMMA3_CHAT_TEMPLATE;
  return { json, config };
}

export async function loadGemmaTurnTokenizer(): Promise<TextTokenizer> {
  const { json, config } = await gemmaTurnTokenizerFiles();
  return wrapTokenizer(tokenizerFromJson(json, config));
}
