// The model weights' SHA-256 for the CLI, cached in one small JSON file
// ($WEBLORA_CACHE_DIR, else $XDG_CACHE_HOME/weblora, else ~/.cache/weblora) by the file's real
// path, size and modification time: hashed once per model file, a stat and a lookup after that.
// A cache that cannot be read or written only costs the hashing again.
import { mkdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileSource } from '../../engine/model/byte-source-node';
import { WEIGHTS_FILE } from '../../engine/model/source/source-types';
import { cachedSha256, type FileStamp, type WeightsHashCache } from '../../engine/model/weights-sha256';

const CACHE_FILE = 'weights-sha256.json';

export function cacheDir(env: Record<string, string | undefined>): string {
  if (env.WEBLORA_CACHE_DIR) return env.WEBLORA_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'weblora');
}

type CacheEntries = Record<string, { size: number; mtime_ms: number; sha256: string }>;

function fileCache(path: string): WeightsHashCache {
  const read = async (): Promise<CacheEntries> => {
    try {
      const j = JSON.parse(await readFile(path, 'utf8'));
      return j && typeof j === 'object' && !Array.isArray(j) ? j : {};
    } catch {
      return {};
    }
  };
  return {
    async get(s) {
      const e = (await read())[s.key];
      return e && e.size === s.size && e.mtime_ms === s.mtimeMs && /^[0-9a-f]{64}$/.test(e.sha256) ? e.sha256 : null;
    },
    async set(s, sha256) {
      try {
        const all = { ...(await read()), [s.key]: { size: s.size, mtime_ms: s.mtimeMs, sha256 } };
        await mkdir(dirname(path), { recursive: true });
        const tmp = `${path}.${process.pid}.tmp`;
        await writeFile(tmp, JSON.stringify(all, null, 1) + '\n');
        await rename(tmp, path);
      } catch {
        // Read-only home, full disk: the hash is still right, just not remembered.
      }
    },
  };
}

/** SHA-256 of `modelDir`/model.safetensors; `onHashing` hears when it has to be computed. */
export async function modelWeightsSha256(modelDir: string, env: Record<string, string | undefined>, onHashing?: (bytes: number) => void): Promise<string> {
  const path = await realpath(join(modelDir, WEIGHTS_FILE));
  const info = await stat(path);
  const stamp: FileStamp = { key: path, size: info.size, mtimeMs: info.mtimeMs };
  const cache = fileCache(join(cacheDir(env), CACHE_FILE));
  const source = await fileSource(path);
  try {
    let told = false;
    return await cachedSha256(source, stamp, cache, () => {
      if (!told) onHashing?.(info.size);
      told = true;
    });
  } finally {
    await source.close();
  }
}
