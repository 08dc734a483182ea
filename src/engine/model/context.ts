// The model's context length (config.json's max_position_embeddings): positions beyond it were
// never trained, so a longer training length or generation quietly degrades. Said before the
// work, as Hugging Face's tokenizers and TRL warn.
import type { ModelConfig } from './config';

/** A warning when `tokens` (what `what` asks for) is beyond the model's context, else null. */
export function beyondContext(config: ModelConfig, tokens: number, what: string): string | null {
  const limit = config.maxPositionEmbeddings;
  if (!(tokens > limit)) return null;
  return `${what} is ${tokens} tokens, beyond this model's context of ${limit} (max_position_embeddings): positions past ${limit} were never trained, so output there degrades`;
}
