// Random access to a file's bytes without loading it whole: a 500 MB checkpoint is read
// header first, then one tensor at a time, straight into the buffer that becomes the tensor.
export interface ByteSource {
  /** File name used in error messages. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes from `offset` (rejects if fewer are available). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      if (offset < 0 || offset + length > bytes.byteLength) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is past the end (${bytes.byteLength} bytes)`);
      }
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
      if (offset < 0 || offset + length > blob.size) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is past the end (${blob.size} bytes)`);
      }
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}
