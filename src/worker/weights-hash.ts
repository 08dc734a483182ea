// The loaded model's weights SHA-256 in the app (model/weights-sha256.ts), remembered in
// IndexedDB under the file it was read from — a dropped file by its path, size and last
// modification, a hub download by its cache URL and ETag — so a model is read through once, not
// at every load. Without IndexedDB (or a source that cannot say what it is) it is computed each time.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { cachedSha256, sha256OfSource, type WeightsHashCache } from '../engine/model/weights-sha256';
import type { WeightsSource } from '../engine/model/source/source-types';

interface Schema extends DBSchema {
  hashes: { key: string; value: { size: number; mtimeMs: number; sha256: string } };
}

let dbPromise: Promise<IDBPDatabase<Schema>> | null = null;

const idbCache: WeightsHashCache = {
  async get(s) {
    const hit = await (await db()).get('hashes', s.key);
    return hit && hit.size === s.size && hit.mtimeMs === s.mtimeMs ? hit.sha256 : null;
  },
  async set(s, sha256) {
    await (await db()).put('hashes', { size: s.size, mtimeMs: s.mtimeMs, sha256 }, s.key);
  },
};

function db(): Promise<IDBPDatabase<Schema>> {
  dbPromise ??= openDB<Schema>('weblora-weights-sha256', 1, { upgrade: (d) => void d.createObjectStore('hashes') });
  return dbPromise;
}

export async function weightsSha256(weights: WeightsSource): Promise<string> {
  if (!weights.stamp || typeof indexedDB === 'undefined') return sha256OfSource(weights);
  // A cache that fails (private mode, quota) only costs the hashing again.
  const cache: WeightsHashCache = {
    get: (s) => idbCache.get(s).catch(() => null),
    set: (s, sha) => idbCache.set(s, sha).catch(() => {}),
  };
  return cachedSha256(weights, weights.stamp, cache);
}
