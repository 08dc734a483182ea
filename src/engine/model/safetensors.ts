// safetensors: an 8-byte little-endian header length N, N bytes of JSON header, then raw
// little-endian tensor data whose data_offsets count from byte 8 + N.
// Reading goes through a ByteSource so a 500 MB checkpoint is never held whole: the header is
// read once, then each tensor's bytes on demand straight into the buffer that is returned.
import type { ByteSource } from './byte-source';

/** Every dtype whose header entries we can validate; only the floating ones convert to float32. */
export const SAFETENSORS_DTYPES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;
export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPES;

/** What readFloat32 accepts: F32 as is, F16/BF16 exactly, F64 rounded to nearest. */
export const FLOAT32_READABLE: readonly SafetensorsDType[] = ['F32', 'F16', 'BF16', 'F64'];

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute byte offsets in the file (data_offsets + 8 + header length). */
  begin: number;
  end: number;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
  readonly file: string;
  readonly tensor?: string;
  constructor(file: string, message: string, tensor?: string) {
    super(`${file}: ${tensor !== undefined ? `tensor "${tensor}": ` : ''}${message}`);
    this.file = file;
    if (tensor !== undefined) this.tensor = tensor;
  }
}

export interface SafetensorsFile {
  /** File name for messages. */
  readonly name: string;
  readonly metadata: Record<string, string>;
  /** In header order. */
  readonly tensors: Map<string, TensorEntry>;
  /**
   * Float32 data of a floating tensor (F32; F16 and BF16 converted exactly; F64 rounded).
   * An aligned F32 tensor is a view of the bytes the source returned, not a copy: from an
   * in-memory `bytesSource` it therefore shares memory with those bytes.
   */
  readFloat32(name: string): Promise<Float32Array>;
  /** The tensor's raw little-endian bytes, whatever its dtype (as returned by the source). */
  readBytes(name: string): Promise<Uint8Array>;
}

// The Rust library refuses larger headers; a corrupt length must not make us read 400 MB of "JSON".
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

export async function openSafetensors(source: ByteSource): Promise<SafetensorsFile> {
  const file = source.name;
  const fail = (message: string, tensor?: string): never => {
    throw new SafetensorsError(file, message, tensor);
  };

  if (source.size < 8) fail(`${source.size} bytes is too short for a safetensors file (needs an 8-byte header length)`);
  const lengthBytes = await source.read(0, 8);
  const headerLength = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(source.size - 8)) {
    fail(`header length ${headerLength} runs past the end of the file (${source.size} bytes); the file is truncated or not safetensors`);
  }
  const n = Number(headerLength);
  if (n > MAX_HEADER_BYTES) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const dataStart = 8 + n;
  const dataSize = source.size - dataStart;

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await source.read(8, n)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) fail('header is not a JSON object');
  const root = header as Record<string, unknown>;

  let metadata: Record<string, string> = {};
  if (Object.hasOwn(root, METADATA_KEY)) {
    const meta = root[METADATA_KEY];
    if (!isPlainObject(meta)) fail(`${METADATA_KEY} is not an object of strings`);
    const entries = Object.entries(meta as Record<string, unknown>);
    for (const [k, v] of entries) if (typeof v !== 'string') fail(`${METADATA_KEY}.${k} is not a string`);
    // fromEntries defines own properties, so a "__proto__" key stays data, not a prototype.
    metadata = Object.fromEntries(entries) as Record<string, string>;
  }

  const tensors = new Map<string, TensorEntry>();
  for (const [name, raw] of Object.entries(root)) {
    if (name === METADATA_KEY) continue;
    tensors.set(name, parseEntry(raw, name, dataStart, dataSize, fail));
  }

  // Overlap would mean two tensors share bytes: a corrupt or hand-forged file. Gaps are harmless
  // (the reader never looks at them), so unlike the Rust library we accept them.
  const byBegin = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byBegin.length; i++) {
    const prev = byBegin[i - 1]!;
    const cur = byBegin[i]!;
    if (cur.begin < prev.end) {
      fail(`data_offsets [${cur.begin - dataStart}, ${cur.end - dataStart}] overlap those of "${prev.name}" [${prev.begin - dataStart}, ${prev.end - dataStart}]`, cur.name);
    }
  }

  const entryOf = (name: string): TensorEntry => {
    const entry = tensors.get(name);
    if (!entry) fail('no such tensor in the file', name);
    return entry!;
  };
  const readBytes = async (name: string): Promise<Uint8Array> => {
    const { begin, end } = entryOf(name);
    try {
      return await source.read(begin, end - begin);
    } catch (e) {
      return fail(`could not read its ${end - begin} bytes at ${begin}: ${(e as Error).message}`, name);
    }
  };

  return {
    name: file,
    metadata,
    tensors,
    readBytes,
    async readFloat32(name) {
      const entry = entryOf(name);
      if (!FLOAT32_READABLE.includes(entry.dtype)) {
        fail(`dtype ${entry.dtype} is not a floating type (readable as float32: ${FLOAT32_READABLE.join(', ')})`, name);
      }
      return toFloat32(entry.dtype, await readBytes(name));
    },
  };
}

function parseEntry(
  raw: unknown,
  name: string,
  dataStart: number,
  dataSize: number,
  fail: (message: string, tensor?: string) => never,
): TensorEntry {
  if (!isPlainObject(raw)) fail('header entry is not an object', name);
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (dtype === undefined) fail('header entry has no dtype', name);
  if (shape === undefined) fail('header entry has no shape', name);
  if (offsets === undefined) fail('header entry has no data_offsets', name);
  if (typeof dtype !== 'string' || !Object.hasOwn(SAFETENSORS_DTYPES, dtype)) {
    fail(`unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(SAFETENSORS_DTYPES).join(', ')})`, name);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`, name);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    fail(`data_offsets ${JSON.stringify(offsets)} is not a [begin, end] pair with 0 <= begin <= end`, name);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataSize) {
    fail(`data_offsets [${begin}, ${end}] run past the end of the data section (${dataSize} bytes); the file is truncated or corrupt`, name);
  }
  const type = dtype as SafetensorsDType;
  const dims = shape as number[];
  const elements = dims.reduce((a, b) => a * b, 1);
  const expected = elements * SAFETENSORS_DTYPES[type];
  if (!Number.isSafeInteger(expected) || expected !== end - begin) {
    fail(`shape [${dims}] of ${type} needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`, name);
  }
  return { name, dtype: type, shape: dims, begin: dataStart + begin, end: dataStart + end };
}

// JS typed arrays use the platform's byte order; every engine WebLoRA runs on is little-endian,
// like safetensors, so raw bytes are viewed without swapping.
function toFloat32(dtype: SafetensorsDType, bytes: Uint8Array): Float32Array {
  switch (dtype) {
    case 'F32': {
      const src = aligned(bytes, 4);
      return new Float32Array(src.buffer, src.byteOffset, bytes.byteLength / 4);
    }
    case 'F64': {
      const src = aligned(bytes, 8);
      return Float32Array.from(new Float64Array(src.buffer, src.byteOffset, bytes.byteLength / 8));
    }
    case 'F16':
    case 'BF16': {
      const src = aligned(bytes, 2);
      const halves = new Uint16Array(src.buffer, src.byteOffset, bytes.byteLength / 2);
      const out = new Float32Array(halves.length);
      const bits = new Uint32Array(out.buffer);
      if (dtype === 'BF16') {
        // bfloat16 is the upper half of a float32, so the widening is exact.
        for (let i = 0; i < halves.length; i++) bits[i] = halves[i]! << 16;
      } else {
        const table = f16Table();
        for (let i = 0; i < halves.length; i++) bits[i] = table[halves[i]!]!;
      }
      return out;
    }
    default:
      throw new Error(`unreachable: ${dtype}`);
  }
}

/** The bytes themselves when their offset allows a typed-array view, else a copy that does. */
function aligned(bytes: Uint8Array, alignment: number): Uint8Array {
  return bytes.byteOffset % alignment === 0 ? bytes : bytes.slice();
}

// 65536 float32 bit patterns (256 KB), built on first use: one table lookup per element beats
// per-element branching when a whole F16 checkpoint goes through here.
let F16_TABLE: Uint32Array | null = null;
function f16Table(): Uint32Array {
  if (!F16_TABLE) {
    F16_TABLE = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16ToF32Bits(h);
  }
  return F16_TABLE;
}

/** IEEE half -> single bit pattern; exact for every input, NaN payloads kept. */
export function f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // rebias 15 -> 127
  if (mant === 0) return sign >>> 0;
  // Subnormal half = mant * 2^-24: normalise the mantissa into an implicit-1 float32.
  let e = 113; // exponent field of 2^-14, the value of the implicit bit once normalised
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

export type TensorsToWrite =
  | Array<{ name: string; shape: number[]; data: Float32Array }>
  | Record<string, { shape: number[]; data: Float32Array }>;

/**
 * F32 safetensors, byte-identical to what the Python/Rust library writes for the same F32
 * tensors: `__metadata__` first (only when given), tensors sorted by name (the library sorts by
 * dtype, then name, and everything here is F32), data packed in that order without gaps, and the
 * JSON header padded with spaces to a multiple of 8 bytes so the data section starts aligned.
 */
export function writeSafetensors(tensors: TensorsToWrite, metadata?: Record<string, string>): Uint8Array {
  const list = Array.isArray(tensors)
    ? tensors
    : Object.entries(tensors).map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  const seen = new Set<string>();
  for (const { name, shape, data } of list) {
    if (name === METADATA_KEY) throw new Error(`writeSafetensors: "${METADATA_KEY}" is reserved for metadata`);
    if (seen.has(name)) throw new Error(`writeSafetensors: tensor "${name}" given twice`);
    seen.add(name);
    const elements = shape.reduce((a, b) => a * b, 1);
    if (!shape.every(isCount) || elements !== data.length) {
      throw new Error(`writeSafetensors: tensor "${name}" has shape [${shape}] but ${data.length} values`);
    }
  }
  const sorted = [...list].sort((a, b) => compareCodePoints(a.name, b.name));

  const entries: Array<[string, unknown]> = metadata ? [[METADATA_KEY, metadata]] : [];
  let offset = 0;
  for (const { name, shape, data } of sorted) {
    entries.push([name, { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] }]);
    offset += data.byteLength;
  }
  // Joined by hand: an object would move integer-like names first and swallow "__proto__".
  const body = entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',');
  const json = new TextEncoder().encode(`{${body}}`);
  const headerLength = Math.ceil(json.byteLength / 8) * 8;

  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLength);
  let at = 8 + headerLength;
  for (const { data } of sorted) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

// Rust sorts names by UTF-8 bytes, which is code point order; JS's `<` compares UTF-16 units,
// which disagrees for characters above U+FFFF.
function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
