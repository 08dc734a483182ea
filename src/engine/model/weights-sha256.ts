// The model's identity for resuming a run: SHA-256 of the whole model.safetensors (header and
// data), so that two models with one config — a fine-tune and its base — are never mixed up.
// Streamed a chunk at a time (hash-wasm: WebCrypto's digest() takes the whole input at once,
// which would hold a 1 GB model twice), and cached by the caller under the file's size and
// modification time, so a model is read through once, not at every run.
import { createSHA256 } from 'hash-wasm';
import type { ByteSource } from './byte-source';
import { nextTurn } from '../next-turn';

const CHUNK_BYTES = 8 * 1024 * 1024;

export async function sha256OfSource(source: ByteSource, onProgress?: (done: number, total: number) => void): Promise<string> {
  const hash = await createSHA256();
  hash.init();
  for (let at = 0; at < source.size; at += CHUNK_BYTES) {
    hash.update(await source.read(at, Math.min(CHUNK_BYTES, source.size - at)));
    onProgress?.(Math.min(source.size, at + CHUNK_BYTES), source.size);
    // A gigabyte takes seconds: let Ctrl-C and the UI in between.
    await nextTurn();
  }
  return hash.digest('hex');
}

/** What a cached hash is valid for: the same file, unchanged since. */
export interface FileStamp {
  /** Where the file is (a path, a cache key): what the cache is keyed by. */
  key: string;
  size: number;
  mtimeMs: number;
}

export interface WeightsHashCache {
  get(stamp: FileStamp): Promise<string | null>;
  set(stamp: FileStamp, sha256: string): Promise<void>;
}

/** The cached hash when the file is unchanged, else hashed now and remembered. */
export async function cachedSha256(source: ByteSource, stamp: FileStamp, cache: WeightsHashCache, onProgress?: (done: number, total: number) => void): Promise<string> {
  const known = await cache.get(stamp);
  if (known) return known;
  const sha = await sha256OfSource(source, onProgress);
  await cache.set(stamp, sha);
  return sha;
}
