// A transformers.js tokenizer from the two JSON files we already hold (folder, dropped files).
// The hub path lets AutoTokenizer download them instead; this mirrors AutoTokenizer's own choice
// of class so that both paths build the same tokenizer.
import * as transformers from '@huggingface/transformers';
import { PreTrainedTokenizer } from '@huggingface/transformers';

type TokenizerClass = new (tokenizerJSON: unknown, tokenizerConfig: unknown) => PreTrainedTokenizer;

export function tokenizerFromJson(tokenizerJson: unknown, tokenizerConfig: Record<string, unknown>): PreTrainedTokenizer {
  // AutoTokenizer.from_pretrained: the class named by tokenizer_config.json, without "Fast",
  // falling back to the base class (which reads everything from tokenizer.json anyway).
  const named = typeof tokenizerConfig.tokenizer_class === 'string' ? tokenizerConfig.tokenizer_class.replace(/Fast$/, '') : '';
  const candidate = named ? (transformers as unknown as Record<string, unknown>)[named] : undefined;
  const cls = isTokenizerClass(candidate) ? candidate : (PreTrainedTokenizer as unknown as TokenizerClass);
  return new cls(tokenizerJson, tokenizerConfig);
}

function isTokenizerClass(x: unknown): x is TokenizerClass {
  return typeof x === 'function' && (x === PreTrainedTokenizer || x.prototype instanceof PreTrainedTokenizer);
}
