// The browser's Cache API (or env.customCache, which speaks the same match/put), keyed by the
// file's URL as transformers.js keys it. Cache.put commits an entry only after reading the whole
// body; a body that errors (our hub fetch errors short downloads) rejects the put and stores
// nothing. The weights stream straight into the cache and are read back as a Blob, which the
// browser keeps on disk, so a large checkpoint is never held in memory twice.
import { blobSource } from '../byte-source';
import { failedError } from './hub-errors';
import { remoteUrl, type HubLocation } from './hub-location';
import type { HubStore } from './hub-store';
import type { WeightsSource } from './source-types';

export interface CacheLike {
  match(key: string): Promise<unknown>;
  put(key: string, response: Response): Promise<void>;
  delete?(key: string): Promise<boolean>;
}

export function webStore(kind: 'browser' | 'custom', cache: CacheLike, loc: HubLocation): HubStore {
  const key = (file: string) => remoteUrl(loc, file);

  async function entry(file: string): Promise<{ blob: Blob; version: string } | null> {
    const hit = (await cache.match(key(file)).catch(() => undefined)) as Response | undefined;
    if (!hit || typeof hit.blob !== 'function') return null;
    const blob = await hit.blob();
    const declared = hit.headers?.get('content-length');
    if (declared && /^\d+$/.test(declared) && Number(declared) !== blob.size) {
      // Shorter than it says it is: written by someone less careful. Forget it and download again.
      await cache.delete?.(key(file)).catch(() => false);
      return null;
    }
    // What tells one download of this URL from another ("main" moves): the hub's ETag.
    const version = hit.headers?.get('x-linked-etag') ?? hit.headers?.get('etag') ?? hit.headers?.get('last-modified') ?? '';
    return { blob, version };
  }

  const asSource = (file: string, e: { blob: Blob; version: string }): WeightsSource => ({
    ...blobSource(file, e.blob),
    close: async () => {},
    stamp: { key: `${key(file)}#${e.version}`, size: e.blob.size, mtimeMs: 0 },
  });

  return {
    kind,
    cachedSize: async (file) => (await entry(file))?.blob.size ?? null,
    async open(file) {
      const e = await entry(file);
      return e ? asSource(file, e) : null;
    },
    async save(file, response, onBytes) {
      const tap = tapBody(response.body!, onBytes);
      const headers = new Headers(response.headers);
      try {
        await cache.put(key(file), new Response(tap.body, { status: 200, statusText: 'OK', headers }));
      } catch (err) {
        // The download's own failure (cut off, aborted) explains more than the cache's rejection.
        if (tap.failure !== undefined) throw tap.failure;
        throw failedError(loc.repoId, file, new Error(`the cache would not store it (storage full?): ${(err as Error).message}`));
      }
      if (tap.failure !== undefined) throw tap.failure;
      const e = await entry(file);
      if (!e) throw failedError(loc.repoId, file, new Error('the cache did not keep it'));
      return asSource(file, e);
    },
  };
}

/** Passes a body through, reporting bytes and remembering why it failed, if it did. */
function tapBody(source: ReadableStream<Uint8Array>, onBytes: (loaded: number) => void) {
  const reader = source.getReader();
  let loaded = 0;
  const tap: { body: ReadableStream<Uint8Array>; failure: unknown } = {
    failure: undefined,
    body: new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          loaded += value.byteLength;
          controller.enqueue(value);
          onBytes(loaded);
        } catch (err) {
          tap.failure = err;
          controller.error(err);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    }),
  };
  return tap;
}
