// Random access to a file's bytes without loading it whole: a 500 MB checkpoint is read
// header first, then one tensor at a time, straight into the buffer that becomes the tensor.
export interface ByteSource {
  /** File name used in error messages. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes from `offset` (rejects if fewer are available). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function checkRange(name: string, size: number, offset: number, length: number): void {
  if (offset < 0 || offset + length > size) {
    throw new RangeError(`${name}: read of ${length} bytes at ${offset} is past the end (${size} bytes)`);
  }
}

/** A Node FileHandle, as far as reading goes (typed here so browser-safe code can share this). */
export interface PositionalReader {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** Reads until `length` bytes are in: a file read may return fewer than asked. */
export async function readExactly(file: PositionalReader, name: string, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(out, done, length - done, offset + done);
    if (bytesRead === 0) throw new RangeError(`${name}: unexpected end of file at ${offset + done}`);
    done += bytesRead;
  }
  return out;
}

export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(name, bytes.byteLength, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A browser File/Blob (dropped or chosen from disk); Blob.slice reads lazily. */
export function blobSource(name: string, blob: Blob): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      checkRange(name, blob.size, offset, length);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}
