// Where hub files are cached: the same place transformers.js caches them, chosen by the same
// rule as its getCache() (utils/cache.js, not exported): env.customCache, else the browser's
// Cache API, else a folder on disk. transformers.js writes the JSON files there itself; we
// write the weights (and read back sizes of everything, to know the download total up front).
import { env } from '@huggingface/transformers';
import { bytesSource } from '../byte-source';
import type { WeightsSource } from './source-types';
import { fsStore } from './hub-store-fs';
import { webStore, type CacheLike } from './hub-store-web';
import type { HubLocation } from './hub-location';

export interface HubStore {
  readonly kind: 'custom' | 'browser' | 'fs' | 'none';
  /** Size of the complete cached copy of `file`, or null when there is none. */
  cachedSize(file: string): Promise<number | null>;
  open(file: string): Promise<WeightsSource | null>;
  /**
   * Consumes a 200 response for `file` and returns the stored copy. The entry is committed only
   * once the body has ended without error, so a cut-off download leaves nothing behind.
   */
  save(file: string, response: Response, onBytes: (loaded: number) => void): Promise<WeightsSource>;
}

export async function openHubStore(loc: HubLocation, cacheDir: string | null): Promise<HubStore> {
  if (env.useCustomCache && env.customCache) return webStore('custom', env.customCache as CacheLike, loc);
  if (env.useBrowserCache && typeof caches !== 'undefined') {
    // As transformers.js does: a Cache API that exists but refuses to open (e.g. a sandboxed
    // iframe) means "no cache", not failure.
    const cache = await caches.open(env.cacheKey).catch(() => null);
    if (cache) return webStore('browser', cache, loc);
  }
  if (env.useFSCache && cacheDir) return fsStore(cacheDir, loc);
  return noStore();
}

/** No cache available: keep the download in memory. */
function noStore(): HubStore {
  return {
    kind: 'none',
    cachedSize: async () => null,
    open: async () => null,
    async save(file, response, onBytes) {
      const bytes = await readAll(response, onBytes);
      return { ...bytesSource(file, bytes), close: async () => {} };
    },
  };
}

export async function readAll(response: Response, onBytes: (loaded: number) => void): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = response.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onBytes(loaded);
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
