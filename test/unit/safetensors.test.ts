import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blobSource, bytesSource, type ByteSource } from '../../src/engine/model/byte-source';
import { fileSource } from '../../src/engine/model/byte-source-node';
import {
  f16ToF32Bits,
  openSafetensors,
  SafetensorsError,
  writeSafetensors,
} from '../../src/engine/model/safetensors';
import { STORIES_DIR } from '../helpers/paths';

const STORIES = join(STORIES_DIR, 'model.safetensors');

/** A safetensors file from a raw header (object or literal text) and data section. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array {
  let json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  if (pad && json.length % 8) {
    const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function u16Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(i * 2, v, true));
  return out;
}

function bitsOf(a: Float32Array): number[] {
  return [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
}

async function openBytes(name: string, bytes: Uint8Array) {
  return openSafetensors(bytesSource(name, bytes));
}

/** Asserts the open (or read) fails with a SafetensorsError naming the file and, if given, the tensor. */
async function expectError(promise: Promise<unknown>, file: string, tensor?: string, text?: RegExp) {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SafetensorsError);
  const e = err as SafetensorsError;
  expect(e.file).toBe(file);
  expect(e.message).toContain(file);
  if (tensor !== undefined) {
    expect(e.tensor).toBe(tensor);
    expect(e.message).toContain(`"${tensor}"`);
  }
  if (text) expect(e.message).toMatch(text);
  return e;
}

describe('writeSafetensors + openSafetensors', () => {
  it('round-trips F32 tensors bit for bit with metadata and an 8-byte-aligned header', async () => {
    const weird = new Float32Array([0, -0, 1.5, -3.25e-39, Infinity, -Infinity, NaN, 3.4028234663852886e38]);
    const matrix = Float32Array.from({ length: 12 }, (_, i) => Math.fround(Math.sin(i) * 1e3));
    const bytes = writeSafetensors(
      [
        { name: 'z.weight', shape: [2, 6], data: matrix },
        { name: 'a.special', shape: [8], data: weird },
        { name: 'scalar', shape: [], data: new Float32Array([7]) },
        { name: 'empty', shape: [0, 3], data: new Float32Array(0) },
      ],
      { format: 'pt' },
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const f = await openBytes('rt.safetensors', bytes);
    expect(f.metadata).toEqual({ format: 'pt' });
    // Sorted by name, as the Python library writes them.
    expect([...f.tensors.keys()]).toEqual(['a.special', 'empty', 'scalar', 'z.weight']);
    expect(f.tensors.get('z.weight')).toMatchObject({ dtype: 'F32', shape: [2, 6] });
    expect(bitsOf(await f.readFloat32('a.special'))).toEqual(bitsOf(weird));
    expect(bitsOf(await f.readFloat32('z.weight'))).toEqual(bitsOf(matrix));
    expect([...(await f.readFloat32('scalar'))]).toEqual([7]);
    expect((await f.readFloat32('empty')).length).toBe(0);
  });

  it('accepts a record, writes no __metadata__ when none is given, and pads with spaces', async () => {
    const bytes = writeSafetensors({ b: { shape: [1], data: new Float32Array([2]) }, a: { shape: [1], data: new Float32Array([1]) } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd()).toBe(
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
    );
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    const f = await openBytes('rec.safetensors', bytes);
    expect(f.metadata).toEqual({});
    expect([...(await f.readFloat32('a')), ...(await f.readFloat32('b'))]).toEqual([1, 2]);
  });

  it('writes from a subarray view without picking up neighbouring values', async () => {
    const big = new Float32Array([9, 1, 2, 3, 9]);
    const f = await openBytes('view.safetensors', writeSafetensors([{ name: 'x', shape: [3], data: big.subarray(1, 4) }]));
    expect([...(await f.readFloat32('x'))]).toEqual([1, 2, 3]);
  });

  it('refuses duplicate names and data that does not fill the shape', () => {
    const one = new Float32Array([1]);
    expect(() => writeSafetensors([{ name: 'x', shape: [1], data: one }, { name: 'x', shape: [1], data: one }])).toThrow(/"x" given twice/);
    expect(() => writeSafetensors([{ name: 'x', shape: [2], data: one }])).toThrow(/"x" has shape \[2\] but 1 values/);
  });

  it('reads an unaligned in-memory file correctly (copying only then)', async () => {
    // An unpadded 1-byte-odd header puts the data at an odd offset of the underlying buffer.
    const data = new Uint8Array(new Float32Array([1.5, -2]).buffer);
    const bytes = build('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', data, false);
    const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(dataStart % 4).not.toBe(0);
    const f = await openBytes('odd.safetensors', bytes);
    const out = await f.readFloat32('x');
    expect([...out]).toEqual([1.5, -2]);
    expect(out.buffer).not.toBe(bytes.buffer);
  });

  it('views an aligned in-memory F32 tensor without copying', async () => {
    const bytes = writeSafetensors([{ name: 'x', shape: [2], data: new Float32Array([1, 2]) }]);
    const out = await (await openBytes('view.safetensors', bytes)).readFloat32('x');
    expect(out.buffer).toBe(bytes.buffer);
  });
});

describe('the real stories260K checkpoint', () => {
  it('opens through fileSource: 47 tensors, embed_tokens [512, 64], finite values', async () => {
    const src = await fileSource(STORIES);
    try {
      const f = await openSafetensors(src);
      expect(f.name).toBe('model.safetensors');
      expect(f.tensors.size).toBe(47);
      expect(f.metadata.format).toBe('pt');
      const embed = f.tensors.get('model.embed_tokens.weight')!;
      expect(embed).toMatchObject({ dtype: 'F32', shape: [512, 64] });
      const values = await f.readFloat32('model.embed_tokens.weight');
      expect(values.length).toBe(512 * 64);
      expect(values.every(Number.isFinite)).toBe(true);
      expect(values.some((v) => v !== 0)).toBe(true);
      // Same bytes as a plain read of the file at the entry's absolute offsets.
      const raw = await readFile(STORIES);
      const expected = new Float32Array(raw.buffer.slice(raw.byteOffset + embed.begin, raw.byteOffset + embed.end));
      expect(bitsOf(values)).toEqual(bitsOf(expected));
    } finally {
      await src.close();
    }
  });

  it('opens through blobSource with the same values', async () => {
    const raw = new Uint8Array(await readFile(STORIES));
    const fromBlob = await openSafetensors(blobSource('model.safetensors', new Blob([raw])));
    const fromBytes = await openBytes('model.safetensors', raw);
    expect(fromBlob.tensors.size).toBe(47);
    for (const name of ['model.embed_tokens.weight', 'model.norm.weight', 'model.layers.4.mlp.up_proj.weight']) {
      expect(bitsOf(await fromBlob.readFloat32(name))).toEqual(bitsOf(await fromBytes.readFloat32(name)));
    }
  });

  it('is rewritten byte for byte by writeSafetensors (same layout as the Python library)', async () => {
    const raw = new Uint8Array(await readFile(STORIES));
    const f = await openBytes('model.safetensors', raw);
    const tensors = await Promise.all(
      [...f.tensors.values()].map(async (t) => ({ name: t.name, shape: t.shape, data: await f.readFloat32(t.name) })),
    );
    const rewritten = writeSafetensors(tensors.reverse(), f.metadata);
    expect(rewritten.length).toBe(raw.length);
    expect(Buffer.from(rewritten).equals(Buffer.from(raw))).toBe(true);
  });

  it('reads only the header and the requested tensor from a file', async () => {
    const src = await fileSource(STORIES);
    let bytesRead = 0;
    let reads = 0;
    const counting: ByteSource = {
      name: src.name,
      size: src.size,
      async read(offset, length) {
        bytesRead += length;
        reads++;
        return src.read(offset, length);
      },
    };
    try {
      const f = await openSafetensors(counting);
      const headerLength = 4944; // the stories260K header, from its first 8 bytes
      expect(bytesRead).toBe(8 + headerLength);
      const norm = f.tensors.get('model.norm.weight')!;
      await f.readFloat32('model.norm.weight');
      expect(bytesRead).toBe(8 + headerLength + (norm.end - norm.begin));
      expect(reads).toBe(3);
      expect(bytesRead).toBeLessThan(src.size / 100);
    } finally {
      await src.close();
    }
  });
});

describe('F16 and BF16 to float32', () => {
  it('converts F16 bit patterns exactly: normals, subnormals, zeros, infinities, NaN', async () => {
    const halves = [0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x0000, 0x7c00, 0xfc00, 0x7e00, 0x3555, 0x8001];
    const f = await openBytes('half.safetensors', build({ h: { dtype: 'F16', shape: [13], data_offsets: [0, 26] } }, u16Bytes(halves)));
    const out = await f.readFloat32('h');
    expect([...out.slice(0, 6)]).toEqual([1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14]);
    expect(Object.is(out[6], -0)).toBe(true);
    expect(Object.is(out[7], 0)).toBe(true);
    expect(out[8]).toBe(Infinity);
    expect(out[9]).toBe(-Infinity);
    expect(out[10]).toBeNaN();
    expect(out[11]).toBe(0.333251953125);
    expect(out[12]).toBe(-(2 ** -24));
    // Quiet NaN keeps its payload in the upper mantissa bits.
    expect(bitsOf(out)[10]).toBe(0x7fc00000);
  });

  it('matches the IEEE definition for all 65536 half values', () => {
    const buf = new Float32Array(1);
    const bits = new Uint32Array(buf.buffer);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const mant = h & 0x3ff;
      const expected =
        exp === 0x1f ? (mant ? NaN : sign * Infinity) : exp === 0 ? sign * mant * 2 ** -24 : sign * (1 + mant / 1024) * 2 ** (exp - 15);
      bits[0] = f16ToF32Bits(h);
      if (!Object.is(buf[0], expected)) throw new Error(`half 0x${h.toString(16)} -> ${buf[0]}, expected ${expected}`);
    }
  });

  it('widens BF16 exactly (the upper half of a float32)', async () => {
    const halves = [0x3f80, 0xc020, 0x4049, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x8000, 0x7f7f];
    const file = build({ b: { dtype: 'BF16', shape: [3, 3], data_offsets: [0, 18] } }, u16Bytes(halves));
    const out = await (await openBytes('bf16.safetensors', file)).readFloat32('b');
    expect([...out.slice(0, 3)]).toEqual([1, -2.5, 3.140625]);
    expect(out[3]).toBe(Infinity);
    expect(out[4]).toBe(-Infinity);
    expect(out[5]).toBeNaN();
    expect(out[6]).toBe(2 ** -133);
    expect(Object.is(out[7], -0)).toBe(true);
    expect(bitsOf(out)).toEqual(halves.map((h) => (h << 16) >>> 0));
  });

  it('rounds F64 to the nearest float32', async () => {
    const data = new Uint8Array(new Float64Array([0.1, -1e300, 2]).buffer);
    const f = await openBytes('f64.safetensors', build({ d: { dtype: 'F64', shape: [3], data_offsets: [0, 24] } }, data));
    expect([...(await f.readFloat32('d'))]).toEqual([Math.fround(0.1), -Infinity, 2]);
  });
});

describe('corrupt files', () => {
  const good = () =>
    writeSafetensors([
      { name: 'first', shape: [4], data: new Float32Array([1, 2, 3, 4]) },
      { name: 'second', shape: [2, 2], data: new Float32Array([5, 6, 7, 8]) },
    ]);

  it('truncated mid-data', async () => {
    const bytes = good();
    await expectError(openBytes('cut.safetensors', bytes.subarray(0, bytes.length - 6)), 'cut.safetensors', 'second', /past the end.*truncated/);
  });

  it('shorter than 8 bytes', async () => {
    await expectError(openBytes('tiny.safetensors', new Uint8Array([1, 0, 0, 0, 0])), 'tiny.safetensors', undefined, /5 bytes is too short/);
  });

  it('header length past the end of the file', async () => {
    const bytes = good();
    new DataView(bytes.buffer).setBigUint64(0, 1_000_000n, true);
    await expectError(openBytes('long.safetensors', bytes), 'long.safetensors', undefined, /header length 1000000 runs past the end/);
    // A header cut short is the same failure.
    await expectError(openBytes('half.safetensors', good().subarray(0, 20)), 'half.safetensors', undefined, /runs past the end/);
  });

  it('data_offsets out of range', async () => {
    const file = build({ w: { dtype: 'F32', shape: [100], data_offsets: [0, 400] } }, new Uint8Array(16));
    await expectError(openBytes('range.safetensors', file), 'range.safetensors', 'w', /\[0, 400\] run past the end of the data section \(16 bytes\)/);
  });

  it('overlapping data_offsets', async () => {
    const header = {
      b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
    };
    await expectError(openBytes('overlap.safetensors', build(header, new Uint8Array(24))), 'overlap.safetensors', 'b', /overlap those of "a"/);
  });

  it('unknown dtype, listing the supported ones', async () => {
    const file = build({ q: { dtype: 'Q4_K', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4));
    const e = await expectError(openBytes('dtype.safetensors', file), 'dtype.safetensors', 'q', /unknown dtype "Q4_K"/);
    expect(e.message).toMatch(/supported: .*F32.*F16.*BF16/);
  });

  it('shape and byte count disagree', async () => {
    const file = build({ m: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, new Uint8Array(16));
    await expectError(openBytes('count.safetensors', file), 'count.safetensors', 'm', /shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 16\] hold 16/);
  });

  it('header is not valid JSON', async () => {
    await expectError(openBytes('json.safetensors', build('{"a": {"dtype": ')), 'json.safetensors', undefined, /not valid UTF-8 JSON/);
  });

  it('header is JSON but not an object', async () => {
    await expectError(openBytes('array.safetensors', build('[1, 2]')), 'array.safetensors', undefined, /not a JSON object/);
  });

  it('entry missing a field or malformed', async () => {
    await expectError(openBytes('nodt.safetensors', build({ t: { shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4))), 'nodt.safetensors', 't', /no dtype/);
    await expectError(openBytes('noshape.safetensors', build({ t: { dtype: 'F32', data_offsets: [0, 4] } }, new Uint8Array(4))), 'noshape.safetensors', 't', /no shape/);
    await expectError(openBytes('nooff.safetensors', build({ t: { dtype: 'F32', shape: [1] } }, new Uint8Array(4))), 'nooff.safetensors', 't', /no data_offsets/);
    await expectError(openBytes('neg.safetensors', build({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4))), 'neg.safetensors', 't', /shape \[-1\]/);
    await expectError(openBytes('rev.safetensors', build({ t: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4))), 'rev.safetensors', 't', /0 <= begin <= end/);
    await expectError(openBytes('meta.safetensors', build({ __metadata__: { n: 1 } })), 'meta.safetensors', undefined, /__metadata__\.n is not a string/);
  });

  it('readFloat32 of an integer tensor or an unknown name names the tensor', async () => {
    const file = build({ ids: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8));
    const f = await openBytes('ints.safetensors', file);
    await expectError(f.readFloat32('ids'), 'ints.safetensors', 'ids', /I32 is not a floating type/);
    await expectError(f.readFloat32('nope'), 'ints.safetensors', 'nope', /no such tensor/);
    expect((await f.readBytes('ids')).length).toBe(8);
  });
});
