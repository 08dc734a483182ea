// A frozen weight stored in IEEE half precision on the GPU (precision 'f16-base').
//
// TF.js has no float16 dtype, so the halves travel as an int32 tensor of half the length, two
// per element (element i holds halves 2i in its low 16 bits and 2i + 1 in its high 16 bits —
// what WGSL's array<f16> reads from the same bytes on a little-endian GPU). Why int32 and not a
// raw GPUBuffer wrapped as a float32 tensor: the tensor is then an ordinary TF.js tensor —
// uploaded, counted in tf.memory() at its true size, disposed and read back like any other —
// and a stock op that meets it by mistake fails on its dtype instead of computing with bit
// patterns as if they were floats. And why a class around it rather than the bare tensor: its
// logical shape [out, in] is not the tensor's, and the type keeps every stock op (which would
// need float32) from being handed one.
import { tf } from '../src/engine/tf';

/** The largest finite half. */
export const F16_MAX = 65504;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits of x, rounded to nearest even (as the GPU's f16() conversion does). */
export function f16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal (or zero): shift the implicit 1 in, round to nearest even.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** The value of binary16 bits h. */
export function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** x rounded to the nearest half (as a number). */
export const roundF16 = (x: number): number => f16Value(f16Bits(x));

export class HalfRangeError extends Error {
  override name = 'HalfRangeError';
}

/**
 * `values` as packed halves; a value a half cannot hold (beyond ±65504, or not finite) is
 * refused by the tensor's name and index, since it would turn into ±Infinity on the GPU.
 */
export function packHalves(values: Float32Array, name: string): Int32Array {
  const packed = new Int32Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(Math.abs(v) <= F16_MAX)) {
      throw new HalfRangeError(
        `${name}: element ${i} is ${v}, beyond what float16 holds (±${F16_MAX}); this model needs precision fp32 (--precision fp32)`,
      );
    }
    const h = f16Bits(v);
    packed[i >> 1] |= i & 1 ? h << 16 : h;
  }
  return packed;
}

/** The float32 values of packed halves (the first `size`). */
export function unpackHalves(packed: Int32Array, size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = f16Value((packed[i >> 1] >>> (i & 1 ? 16 : 0)) & 0xffff);
  return out;
}

/** A frozen [rows, cols] weight held as halves (see the top of this file). */
export class HalfWeight {
  readonly dtype = 'float16';
  constructor(
    /** int32 [⌈rows·cols / 2⌉]: the halves, two to an element. */
    readonly packed: tf.Tensor1D,
    readonly shape: number[],
    readonly name: string,
  ) {}

  static fromFloat32(values: Float32Array, shape: number[], name: string): HalfWeight {
    const packed = packHalves(values, name);
    return new HalfWeight(tf.tensor1d(packed, 'int32'), shape, name);
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get isDisposed(): boolean {
    return this.packed.isDisposed;
  }

  /** The weight as float32 values (exact: every half is a float32). */
  async float32(): Promise<Float32Array> {
    return unpackHalves((await this.packed.data()) as Int32Array, this.size);
  }

  dispose(): void {
    this.packed.dispose();
  }
}

/** A frozen weight: float32 (precision fp32) or halves (f16-base). */
export type FrozenWeight = tf.Tensor | HalfWeight;

export const isHalf = (w: FrozenWeight | undefined): w is HalfWeight => w instanceof HalfWeight;

/** `w` as the float32 tensor it is; a weight in halves is refused by name (it has no float32 tensor). */
export function float32Weight(w: FrozenWeight): tf.Tensor {
  if (isHalf(w)) throw new Error(`${w.name} is stored in float16 (precision f16-base); this needs the float32 weights (precision fp32)`);
  return w;
}
