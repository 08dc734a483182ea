// Turns a set of local files (a folder on disk, or dropped File objects) into ModelFiles:
// one place that checks what is there, parses the JSON and builds the tokenizer.
import { wrapTokenizer } from '../tokenizer';
import { missingFilesError, ModelSourceError, parseJsonFile } from './source-errors';
import { tokenizerFromJson } from './source-tokenizer';
import { nameFromConfig } from '../fingerprint';
import {
  GENERATION_CONFIG,
  REQUIRED_FILES,
  SHARD_INDEX,
  shardedMessage,
  WEIGHTS_FILE,
  type ModelFiles,
  type WeightsSource,
} from './source-types';

export interface LocalFileSet {
  /** Names the source in messages, e.g. the folder path or "dropped files (stories260K)". */
  where: string;
  /** The folder's name; null for loose files (named from their config). */
  name: string | null;
  has(file: string): boolean;
  text(file: string): Promise<string>;
  weights(): Promise<WeightsSource>;
}

export async function assembleModelFiles(set: LocalFileSet): Promise<ModelFiles> {
  const missing = REQUIRED_FILES.filter((f) => !set.has(f));
  if (missing.includes(WEIGHTS_FILE) && set.has(SHARD_INDEX)) {
    throw new ModelSourceError(shardedMessage(set.where), missing);
  }
  if (missing.length) throw missingFilesError(set.where, missing);

  const json = async (file: string) => parseJsonFile(set.where, file, await set.text(file));
  const [config, tokenizerJson, tokenizerConfig, generationConfig] = await Promise.all([
    json('config.json'),
    json('tokenizer.json'),
    json('tokenizer_config.json'),
    set.has(GENERATION_CONFIG) ? json(GENERATION_CONFIG) : null,
  ]);
  let tokenizer;
  try {
    tokenizer = wrapTokenizer(tokenizerFromJson(tokenizerJson, tokenizerConfig));
  } catch (err) {
    throw new ModelSourceError(`${set.where}: transformers.js could not build the tokenizer (${(err as Error).message})`, [], {
      cause: err,
    });
  }
  const named = set.name !== null ? {} : { baseModelId: typeof config._name_or_path === 'string' && config._name_or_path.trim() ? config._name_or_path.trim() : null };
  return { name: set.name ?? nameFromConfig(config), ...named, config, generationConfig, tokenizer, weights: await set.weights() };
}
