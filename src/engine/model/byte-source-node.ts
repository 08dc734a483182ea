// Node-only: a file on disk as a ByteSource (kept apart so the browser bundle never sees node:fs).
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { checkRange, readExactly, type ByteSource } from './byte-source';

export async function fileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  const name = basename(path);
  return {
    name,
    size,
    async read(offset, length) {
      checkRange(name, size, offset, length);
      return readExactly(handle, name, offset, length);
    },
    close: () => handle.close(),
  };
}
