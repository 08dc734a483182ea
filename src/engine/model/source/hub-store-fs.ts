// transformers.js's file-system cache layout (`{cacheDir}/{repo}/{file}`, revision in the path
// when not main), written the way its FileCache writes: into a temporary name, renamed into place
// only when complete, so a reader never sees half a file and a cut-off download leaves nothing.
// Unlike FileCache.put, which transformers.js only calls with a body it has already read into
// memory, this streams the weights to disk and reads them back lazily.
import type { FileHandle } from 'node:fs/promises';
import { fsCacheKey, type HubLocation } from './hub-location';
import type { HubStore } from './hub-store';
import type { WeightsSource } from './source-types';
import { checkRange, readExactly } from '../byte-source';

type Fs = typeof import('node:fs/promises');
let fsModule: Promise<Fs> | undefined;

function nodeFs(): Promise<Fs> {
  // A computed specifier keeps bundlers from pulling node:fs into browser builds. This store is
  // only chosen where transformers.js itself caches on disk (env.useFSCache, i.e. Node).
  const id = 'node:fs/promises';
  return (fsModule ??= import(/* @vite-ignore */ id) as Promise<Fs>);
}

export function fsStore(cacheDir: string, loc: HubLocation): HubStore {
  const pathOf = (file: string) => `${cacheDir.replace(/[\\/]+$/, '')}/${fsCacheKey(loc, file)}`;

  async function cachedSize(file: string): Promise<number | null> {
    const fs = await nodeFs();
    const info = await fs.stat(pathOf(file)).catch(() => null);
    return info?.isFile() ? info.size : null;
  }

  return {
    kind: 'fs',
    cachedSize,
    async open(file) {
      const size = await cachedSize(file);
      return size === null ? null : fileWeights(await nodeFs(), pathOf(file), file, size);
    },
    async save(file, response, onBytes) {
      const fs = await nodeFs();
      const path = pathOf(file);
      const tmp = `${path}.tmp.${globalThis.process?.pid ?? 0}.${Math.random().toString(36).slice(2)}`;
      await fs.mkdir(path.slice(0, path.lastIndexOf('/')), { recursive: true });
      const handle = await fs.open(tmp, 'w');
      let open = true;
      let loaded = 0;
      try {
        const reader = response.body!.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await writeAll(handle, value);
          loaded += value.byteLength;
          onBytes(loaded);
        }
        open = false;
        await handle.close();
        await fs.rename(tmp, path);
      } catch (err) {
        if (open) await handle.close().catch(() => {});
        await fs.unlink(tmp).catch(() => {});
        throw err;
      }
      return fileWeights(fs, path, file, loaded);
    },
  };
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done);
    done += bytesWritten;
  }
}

/** Like fileSource (byte-source-node), which browser-safe code cannot import: opens on first read. */
function fileWeights(fs: Fs, path: string, name: string, size: number): WeightsSource {
  let handle: Promise<FileHandle> | null = null;
  return {
    name,
    size,
    async read(offset, length) {
      checkRange(name, size, offset, length);
      return readExactly(await (handle ??= fs.open(path, 'r')), name, offset, length);
    },
    async close() {
      const h = handle;
      handle = null;
      if (h) await (await h).close();
    },
  };
}
