// What every model source (folder, dropped files, hub) hands to the rest of the engine.
import type { ByteSource } from '../byte-source';
import type { TextTokenizer } from '../tokenizer';
import type { FileStamp } from '../weights-sha256';

/** A ByteSource that may hold an open file; close() is a no-op where it holds nothing. */
export interface WeightsSource extends ByteSource {
  close(): Promise<void>;
  /** Which file this is and since when, where the source can tell: what a cached weights hash is kept under. */
  stamp?: FileStamp;
}

export interface ModelFiles {
  /** repo id or folder name (loose files: from their config) */
  name: string;
  /**
   * What an exported adapter's base_model_name_or_path says, when not the name: loose files give
   * their config's `_name_or_path`, or null when nothing names the model.
   */
  baseModelId?: string | null;
  /** config.json, exactly as parsed. */
  config: Record<string, unknown>;
  /** generation_config.json, or null when the model has none. */
  generationConfig: Record<string, unknown> | null;
  /** Built by transformers.js from tokenizer.json + tokenizer_config.json (chat template included). */
  tokenizer: TextTokenizer;
  /** model.safetensors, read lazily (a file on disk, a Blob, or a cache entry). */
  weights: WeightsSource;
}

export interface DownloadProgress {
  file: string;
  /** Bytes of `file` so far, and its size (0 while unknown). */
  loaded: number;
  total: number;
  /** all files */
  totalLoaded: number;
  totalBytes: number;
  /** `file` is complete. The last event of a load has every file complete and totalLoaded === totalBytes. */
  done: boolean;
}

/** The files a model needs, in the order errors name them. */
export const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'] as const;
export const GENERATION_CONFIG = 'generation_config.json';
export const WEIGHTS_FILE = 'model.safetensors';
/** Present instead of model.safetensors when a checkpoint is split into shards. */
export const SHARD_INDEX = 'model.safetensors.index.json';

export function requiredFilesText(): string {
  const names = [...REQUIRED_FILES];
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

export function shardedMessage(where: string): string {
  return (
    `${where} holds a sharded checkpoint (${SHARD_INDEX} with model-0000N-of-0000M.safetensors), ` +
    `which is not supported yet: WebLoRA needs the weights in a single ${WEIGHTS_FILE}`
  );
}
