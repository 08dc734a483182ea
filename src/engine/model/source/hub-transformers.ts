// The files transformers.js downloads and caches for us, through its public API. Its general
// file loader (getModelFile in utils/hub.js) is not exported — the package's exports map has only
// "." — so config.json and the tokenizer come through the from_pretrained entry points, and the
// weights, which have none, through our own download (hub.ts).
import { AutoTokenizer, PretrainedConfig, type PreTrainedTokenizer, type ProgressCallback } from '@huggingface/transformers';

export interface TransformersHubOptions {
  revision: string;
  cache_dir?: string;
  progress_callback: ProgressCallback;
}

/**
 * PretrainedConfig.from_pretrained ends in `new this(json)`, so a subclass receives config.json
 * exactly as parsed — before PretrainedConfig adds its own fields (model_type: null,
 * normalized_config, ...), which must not leak into what we hand to parseModelConfig.
 */
class ConfigJson extends PretrainedConfig {
  json: Record<string, unknown>;
  constructor(json: Record<string, unknown>) {
    super(json);
    this.json = json;
  }
}

export async function loadConfigJson(repoId: string, opts: TransformersHubOptions): Promise<Record<string, unknown>> {
  const config = await ConfigJson.from_pretrained(repoId, opts);
  if (!(config instanceof ConfigJson)) {
    throw new Error('this transformers.js version no longer builds configs with `new this(json)`; see hub-transformers.ts');
  }
  return config.json;
}

export function loadTokenizer(repoId: string, opts: TransformersHubOptions): Promise<PreTrainedTokenizer> {
  return AutoTokenizer.from_pretrained(repoId, opts);
}
