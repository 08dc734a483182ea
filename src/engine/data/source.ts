// Everything a dataset can arrive as, in a browser worker or in Node, reduced to a stream of
// chunks. No node: imports here: Node callers pass an fs.ReadStream (an AsyncIterable of Buffer,
// which is a Uint8Array) or the file's bytes.

export type DataChunk = Uint8Array | string;

export type DataSource =
  | string
  | Uint8Array
  | ArrayBuffer
  | Blob
  | ReadableStream<Uint8Array>
  | AsyncIterable<DataChunk>
  | Iterable<DataChunk>;

export async function* chunksOf(source: DataSource): AsyncGenerator<DataChunk> {
  // Order matters: strings and typed arrays are themselves iterable (of chars / numbers).
  if (typeof source === 'string' || source instanceof Uint8Array) {
    yield source;
  } else if (source instanceof ArrayBuffer) {
    yield new Uint8Array(source);
  } else if (typeof Blob !== 'undefined' && source instanceof Blob) {
    yield* readStream(source.stream());
  } else if (isReadableStream(source)) {
    // Not every browser makes ReadableStream async-iterable, so read it by hand.
    yield* readStream(source);
  } else if (Symbol.asyncIterator in source) {
    yield* source as AsyncIterable<DataChunk>;
  } else {
    yield* source as Iterable<DataChunk>;
  }
}

function isReadableStream(x: unknown): x is ReadableStream<Uint8Array> {
  return typeof (x as ReadableStream).getReader === 'function';
}

async function* readStream(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
