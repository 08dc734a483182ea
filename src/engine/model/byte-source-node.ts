// Node-only: a file on disk as a ByteSource (kept apart so the browser bundle never sees node:fs).
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ByteSource } from './byte-source';

export async function fileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  const name = basename(path);
  return {
    name,
    size,
    async read(offset, length) {
      if (offset < 0 || offset + length > size) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is past the end (${size} bytes)`);
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new RangeError(`${name}: unexpected end of file at ${offset + done}`);
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}
