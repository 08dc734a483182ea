// The browser path of loadModelFromHub, in Node: a Cache API stand-in with the spec's put
// semantics (the entry is stored only after the whole body has been read; a body that errors
// rejects the put and stores nothing), switched on the way transformers.js would see it in a
// browser. This file runs in its own process, so the global changes stay here.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { env } from '@huggingface/transformers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadModelFromHub } from '../../src/engine/model/source/hub';
import { startHubServer, type HubServer } from '../helpers/hub-server';
import { STORIES_DIR } from '../helpers/paths';

const REPO = 'test-org/stories260K';

class MemoryCache {
  readonly entries = new Map<string, { body: ArrayBuffer; headers: [string, string][] }>();
  async match(key: string): Promise<Response | undefined> {
    const e = this.entries.get(key);
    return e && new Response(e.body.slice(0), { headers: e.headers });
  }
  async put(key: string, res: Response): Promise<void> {
    const body = await res.arrayBuffer();
    this.entries.set(key, { body, headers: [...res.headers] });
  }
  async delete(key: string): Promise<boolean> {
    return this.entries.delete(key);
  }
}

let hub: HubServer;
let cache: MemoryCache;
const g = globalThis as { caches?: unknown };

beforeAll(async () => {
  hub = await startHubServer({ [REPO]: STORIES_DIR });
  env.useFSCache = false;
  env.useBrowserCache = true;
});

afterAll(async () => {
  await hub.close();
  delete g.caches;
});

beforeEach(() => {
  cache = new MemoryCache();
  g.caches = { open: async () => cache };
  hub.clearFaults();
  hub.requests.length = 0;
});

const url = (file: string) => `${hub.url}/${REPO}/resolve/main/${file}`;
const weightsOnDisk = () => readFile(join(STORIES_DIR, 'model.safetensors'));

describe('loadModelFromHub with the Cache API', () => {
  it('caches every file under its URL and reads the weights back from the cache', async () => {
    const m = await loadModelFromHub(REPO, { host: hub.url });
    expect(m.tokenizer.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    expect(Buffer.from(await m.weights.read(0, m.weights.size)).equals(await weightsOnDisk())).toBe(true);
    expect([...cache.entries.keys()].sort()).toEqual(
      ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map(url),
    );

    hub.requests.length = 0;
    await loadModelFromHub(REPO, { host: hub.url });
    expect(hub.requests).toEqual([]);
  });

  it('puts no entry for weights whose connection dropped, and downloads them again', async () => {
    hub.faults.drop.set(`${REPO}/model.safetensors`, 0.5);
    await expect(loadModelFromHub(REPO, { host: hub.url })).rejects.toThrow(/"model\.safetensors" was cut off/);
    expect(cache.entries.has(url('model.safetensors'))).toBe(false);

    hub.clearFaults();
    const m = await loadModelFromHub(REPO, { host: hub.url });
    expect(Buffer.from(await m.weights.read(0, m.weights.size)).equals(await weightsOnDisk())).toBe(true);
    expect(cache.entries.get(url('model.safetensors'))!.body.byteLength).toBe(m.weights.size);
  });

  it('forgets an entry shorter than its content-length and downloads it again', async () => {
    await loadModelFromHub(REPO, { host: hub.url });
    const entry = cache.entries.get(url('model.safetensors'))!;
    entry.body = entry.body.slice(0, 1000);
    hub.requests.length = 0;
    const m = await loadModelFromHub(REPO, { host: hub.url });
    expect(hub.requests.filter((r) => r.method === 'GET').map((r) => r.file)).toEqual(['model.safetensors']);
    expect(m.weights.size).toBe((await weightsOnDisk()).length);
  });
});
