// loadModelFromHub against a local stand-in for the hub: the real stories260K files, served
// over HTTP, cached on disk in a fresh temp folder per test.
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env } from '@huggingface/transformers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubError } from '../../src/engine/model/source/hub-errors';
import { loadModelFromHub } from '../../src/engine/model/source/hub';
import type { DownloadProgress, ModelFiles } from '../../src/engine/model/source/source-types';
import { startHubServer, type HubServer } from '../helpers/hub-server';
import { STORIES_DIR } from '../helpers/paths';

const REPO = 'test-org/stories260K';
const FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
const ONCE_UPON_A_TIME = [1, 403, 407, 261, 378];

let hub: HubServer;
let scratch: string;
let sizes: Record<string, number>;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'weblora-hub-'));
  // A repo with a sharded checkpoint: the JSON files plus an index, and no model.safetensors.
  const sharded = join(scratch, 'sharded');
  await mkdir(sharded);
  for (const f of FILES.filter((f) => f.endsWith('.json'))) await copyFile(join(STORIES_DIR, f), join(sharded, f));
  await writeFile(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: {} }));
  // A repo whose optional generation_config.json is not JSON.
  const broken = join(scratch, 'broken');
  await mkdir(broken);
  for (const f of FILES.filter((f) => f !== 'generation_config.json')) await symlink(join(STORIES_DIR, f), join(broken, f));
  await writeFile(join(broken, 'generation_config.json'), '{"eos_token_id": ');
  hub = await startHubServer({ [REPO]: STORIES_DIR, 'test-org/sharded': sharded, 'test-org/broken': broken });
  sizes = Object.fromEntries(await Promise.all(FILES.map(async (f) => [f, (await stat(join(STORIES_DIR, f))).size])));
});

afterAll(async () => {
  await hub?.close();
  await rm(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  hub.clearFaults();
  hub.requests.length = 0;
});

async function freshCache(): Promise<string> {
  return mkdtemp(join(scratch, 'cache-'));
}

/** The weights equal model.safetensors on disk (compared as buffers: toEqual walks 1 MB slowly). */
async function weightsMatchDisk(m: ModelFiles): Promise<boolean> {
  const disk = await readFile(join(STORIES_DIR, 'model.safetensors'));
  return Buffer.from(await m.weights.read(0, m.weights.size)).equals(disk);
}

async function cachedFiles(cacheDir: string): Promise<string[]> {
  const dir = join(cacheDir, REPO);
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

const gets = (file: string) => hub.requests.filter((r) => r.method === 'GET' && r.file === file && !r.range).length;

describe('loadModelFromHub', () => {
  it('loads config, tokenizer, generation config and weights into a fresh cache, with progress', async () => {
    const cacheDir = await freshCache();
    const events: DownloadProgress[] = [];
    const m = await loadModelFromHub(REPO, { host: hub.url, cacheDir, onProgress: (p) => events.push(p) });

    expect(m.name).toBe(REPO);
    expect(m.config).toEqual(JSON.parse(await readFile(join(STORIES_DIR, 'config.json'), 'utf8')));
    expect(m.generationConfig).toEqual(JSON.parse(await readFile(join(STORIES_DIR, 'generation_config.json'), 'utf8')));
    expect(m.tokenizer.encode('Once upon a time')).toEqual(ONCE_UPON_A_TIME);
    expect(m.tokenizer.decode(ONCE_UPON_A_TIME, { skipSpecialTokens: true })).toBe('Once upon a time');
    expect(m.tokenizer.bosTokenId).toBe(1);
    expect(m.tokenizer.eosTokenId).toBe(2);
    expect(m.weights.size).toBe(sizes['model.safetensors']);
    expect(await weightsMatchDisk(m)).toBe(true);
    await m.weights.close();

    // Everything landed in transformers.js's cache layout, weights included.
    expect(await cachedFiles(cacheDir)).toEqual([...FILES].sort());
    for (const f of FILES) expect(gets(f)).toBe(1);

    // Progress: per file monotonic and ending complete; one fixed total from the first event.
    const sum = FILES.reduce((a, f) => a + sizes[f]!, 0);
    expect(events.length).toBeGreaterThan(FILES.length);
    for (const e of events) expect(e.totalBytes).toBe(sum);
    for (let i = 1; i < events.length; i++) expect(events[i]!.totalLoaded).toBeGreaterThanOrEqual(events[i - 1]!.totalLoaded);
    for (const f of FILES) {
      const mine = events.filter((e) => e.file === f);
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.loaded).toBeGreaterThanOrEqual(mine[i - 1]!.loaded);
      expect(mine.at(-1)).toMatchObject({ loaded: sizes[f], total: sizes[f], done: true });
      expect(mine.filter((e) => e.done)).toHaveLength(1);
    }
    // The weights (1 MB) arrive in several steps, not one.
    expect(events.filter((e) => e.file === 'model.safetensors' && !e.done).length).toBeGreaterThan(3);
    expect(events.at(-1)).toMatchObject({ totalLoaded: sum, totalBytes: sum, done: true });
  });

  it('serves a second load of the same repo from the cache, without a single request', async () => {
    const cacheDir = await freshCache();
    await (await loadModelFromHub(REPO, { host: hub.url, cacheDir })).weights.close();
    hub.requests.length = 0;

    const events: DownloadProgress[] = [];
    const m = await loadModelFromHub(REPO, { host: hub.url, cacheDir, onProgress: (p) => events.push(p) });
    expect(hub.requests).toEqual([]);
    expect(m.tokenizer.encode('Once upon a time')).toEqual(ONCE_UPON_A_TIME);
    expect(await weightsMatchDisk(m)).toBe(true);
    await m.weights.close();
    // Cache reads still report progress, ending complete.
    const sum = FILES.reduce((a, f) => a + sizes[f]!, 0);
    expect(events.at(-1)).toMatchObject({ totalLoaded: sum, totalBytes: sum });
  });

  it('names the repo, the file and the URL when the repo does not exist', async () => {
    const err = await loadModelFromHub('org/missing', { host: hub.url, cacheDir: await freshCache() }).catch((e) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err.message).toMatch(
      /^Hugging Face hub: "org\/missing" has no file "config\.json" \(HTTP 404 from http:\/\/127\.0\.0\.1:\d+\/org\/missing\/resolve\/main\/config\.json\)/,
    );
    expect(err.status).toBe(404);
    expect(err.missing).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']);
  });

  it('names a missing file, before downloading anything', async () => {
    hub.faults.notFound.add(`${REPO}/tokenizer.json`);
    const err = await loadModelFromHub(REPO, { host: hub.url, cacheDir: await freshCache() }).catch((e) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err.message).toBe(
      `Hugging Face hub: "${REPO}" has no file "tokenizer.json" (HTTP 404 from ${hub.url}/${REPO}/resolve/main/tokenizer.json)`,
    );
    expect(err.missing).toEqual(['tokenizer.json']);
    expect(hub.requests.filter((r) => r.method === 'GET')).toEqual([]);
  });

  it('names every missing required file at once', async () => {
    hub.faults.notFound.add(`${REPO}/tokenizer_config.json`);
    hub.faults.notFound.add(`${REPO}/model.safetensors`);
    const err = await loadModelFromHub(REPO, { host: hub.url, cacheDir: await freshCache() }).catch((e) => e);
    expect(err.message).toMatch(/has no file "tokenizer_config\.json" \(HTTP 404 from .*\), nor "model\.safetensors"/);
    expect(err.missing).toEqual(['tokenizer_config.json', 'model.safetensors']);
  });

  it('says a refused repo may be missing, private or gated (the hub answers 401 for all three)', async () => {
    hub.faults.status.set(REPO, 401);
    const err = await loadModelFromHub(REPO, { host: hub.url, cacheDir: await freshCache() }).catch((e) => e);
    expect(err.message).toMatch(/: access to "config\.json" was refused \(HTTP 401 from .*\) \(and to "tokenizer\.json", .*\); the repo may not exist, or be private or gated$/);
    expect(err.status).toBe(401);
  });

  it('reports a server error as one, not as a missing file', async () => {
    hub.faults.status.set(`${REPO}/model.safetensors`, 503);
    const err = await loadModelFromHub(REPO, { host: hub.url, cacheDir: await freshCache() }).catch((e) => e);
    expect(err.message).toMatch(/: the server failed to send "model\.safetensors" \(HTTP 503 from .*model\.safetensors\)$/);
    expect(err.missing).toEqual([]);
  });

  it('treats a missing generation_config.json as absent, not as an error', async () => {
    hub.faults.notFound.add(`${REPO}/generation_config.json`);
    const m = await loadModelFromHub(REPO, { host: hub.url, cacheDir: await freshCache() });
    expect(m.generationConfig).toBeNull();
    await m.weights.close();
  });

  it('names a file that is not JSON', async () => {
    const err = await loadModelFromHub('test-org/broken', { host: hub.url, cacheDir: await freshCache() }).catch((e) => e);
    expect(err.message).toMatch(/^Hugging Face hub: "test-org\/broken": generation_config\.json is not valid JSON \(/);
  });

  it('refuses sharded checkpoints, naming the index file', async () => {
    const err = await loadModelFromHub('test-org/sharded', { host: hub.url, cacheDir: await freshCache() }).catch((e) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err.message).toMatch(/"test-org\/sharded" holds a sharded checkpoint \(model\.safetensors\.index\.json.*not supported yet/);
  });

  it('fails a connection dropped mid-weights with the file named, and caches nothing of it', async () => {
    const cacheDir = await freshCache();
    hub.faults.drop.set(`${REPO}/model.safetensors`, 0.5);
    const err = await loadModelFromHub(REPO, { host: hub.url, cacheDir }).catch((e) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err.message).toMatch(
      new RegExp(`^Hugging Face hub: "${REPO}": the download of "model\\.safetensors" was cut off after \\d+ of ${sizes['model.safetensors']} bytes`),
    );
    const left = await cachedFiles(cacheDir);
    expect(left.filter((f) => f.startsWith('model.safetensors'))).toEqual([]);

    // Still broken: the second attempt downloads again rather than trusting a partial file.
    hub.requests.length = 0;
    await expect(loadModelFromHub(REPO, { host: hub.url, cacheDir })).rejects.toThrow(/cut off/);
    expect(gets('model.safetensors')).toBe(1);

    hub.clearFaults();
    hub.requests.length = 0;
    const m = await loadModelFromHub(REPO, { host: hub.url, cacheDir });
    expect(gets('model.safetensors')).toBe(1);
    expect(await weightsMatchDisk(m)).toBe(true);
    await m.weights.close();

    hub.requests.length = 0;
    await (await loadModelFromHub(REPO, { host: hub.url, cacheDir })).weights.close();
    expect(hub.requests).toEqual([]);
  });

  it('fails a connection dropped mid-file in a transformers.js download the same way', async () => {
    const cacheDir = await freshCache();
    hub.faults.drop.set(`${REPO}/tokenizer.json`, 0.5);
    const err = await loadModelFromHub(REPO, { host: hub.url, cacheDir }).catch((e) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err.message).toMatch(/the download of "tokenizer\.json" was cut off after \d+ of 12327 bytes/);
    expect((await cachedFiles(cacheDir)).filter((f) => f.startsWith('tokenizer.json'))).toEqual([]);

    hub.clearFaults();
    hub.requests.length = 0;
    const m = await loadModelFromHub(REPO, { host: hub.url, cacheDir });
    expect(gets('tokenizer.json')).toBe(1);
    expect(m.tokenizer.encode('Once upon a time')).toEqual(ONCE_UPON_A_TIME);
    await m.weights.close();
  });

  it('stops on abort, leaves no partial weights, and puts env back', async () => {
    const before = { remoteHost: env.remoteHost, cacheDir: env.cacheDir, fetch: env.fetch, allowLocalModels: env.allowLocalModels };
    const cacheDir = await freshCache();
    hub.faults.chunkDelayMs = 20;
    const ctrl = new AbortController();
    const onProgress = (p: DownloadProgress) => {
      if (p.file === 'model.safetensors' && p.loaded > 0) ctrl.abort();
    };
    const err = await loadModelFromHub(REPO, { host: hub.url, cacheDir, onProgress, signal: ctrl.signal }).catch((e) => e);
    expect((err as Error).name).toBe('AbortError');
    expect((await cachedFiles(cacheDir)).filter((f) => f.startsWith('model.safetensors'))).toEqual([]);
    expect({ remoteHost: env.remoteHost, cacheDir: env.cacheDir, fetch: env.fetch, allowLocalModels: env.allowLocalModels }).toEqual(before);
  });

  it('keeps concurrent loads from different hosts apart (env is global)', async () => {
    const other = await startHubServer({ 'other-org/tiny': STORIES_DIR });
    try {
      hub.faults.chunkDelayMs = 2;
      other.faults.chunkDelayMs = 2;
      const [a, b] = await Promise.all([
        loadModelFromHub(REPO, { host: hub.url, cacheDir: await freshCache() }),
        loadModelFromHub('other-org/tiny', { host: other.url, cacheDir: await freshCache() }),
      ]);
      expect(a.name).toBe(REPO);
      expect(b.name).toBe('other-org/tiny');
      expect(new Set(hub.requests.map((r) => r.repo))).toEqual(new Set([REPO]));
      expect(new Set(other.requests.map((r) => r.repo))).toEqual(new Set(['other-org/tiny']));
      await a.weights.close();
      await b.weights.close();
    } finally {
      await other.close();
    }
  });

  it('asks for the requested revision and caches it apart from main', async () => {
    const cacheDir = await freshCache();
    const m = await loadModelFromHub(REPO, { host: hub.url, cacheDir, revision: 'v1.0' });
    await m.weights.close();
    const weightGets = hub.requests.filter((r) => r.file === 'model.safetensors');
    expect(weightGets.map((r) => r.revision)).toEqual(['v1.0', 'v1.0']);
    expect((await stat(join(cacheDir, REPO, 'v1.0', 'model.safetensors'))).size).toBe(sizes['model.safetensors']);
  });

  it('says which host it could not reach', async () => {
    const dead = await startHubServer({});
    const url = dead.url;
    await dead.close();
    await expect(loadModelFromHub(REPO, { host: url, cacheDir: await freshCache() })).rejects.toThrow(
      new RegExp(`^Hugging Face hub: "${REPO}": could not reach ${url.replace(/\./g, '\\.')}`),
    );
  });

  it('rejects ids that are not repo ids before any request', async () => {
    await expect(loadModelFromHub('../etc', { host: hub.url })).rejects.toThrow(/is not a repo id/);
    expect(hub.requests).toEqual([]);
  });
});
