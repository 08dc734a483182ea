// Float16 conversion of frozen weights (kernels/half.ts), against IEEE 754 binary16 values worked
// out by hand, and the refusal of a value float16 cannot hold, naming the tensor.
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { f16Bits, f16Value, packHalves, unpackHalves, roundF16, HalfRangeError, isHalf } from '../../kernels/half';
import { parseModelConfig } from '../../src/engine/model/config';
import { bytesSource } from '../../src/engine/model/byte-source';
import { loadModel } from '../../src/engine/model/load';
import { writeSafetensors } from '../../src/engine/model/safetensors';
import { disposeWeights } from '../../src/engine/model/weights';
import { placeholderTokenizer, randomTensors, TINY_QWEN2 } from '../helpers/random-model';
import { pickMatrixShape } from '../../kernels/matmul-f16';

describe('float16 conversion', () => {
  it('gives the binary16 bits of exact values, the largest half, subnormals and infinities', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
    ];
    for (const [x, bits] of cases) expect(f16Bits(x), `${x}`).toBe(bits);
    expect(Number.isNaN(f16Value(f16Bits(NaN)))).toBe(true);
  });

  it('rounds to the nearest half, ties to even, like the GPU', () => {
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties to the even mantissa (1).
    expect(roundF16(1 + 2 ** -11)).toBe(1);
    // 1 + 3·2^-11 lies halfway between 1 + 2^-10 and 1 + 2^-9: to the even one, 1 + 2^-9.
    expect(roundF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(f16Bits(0.1)).toBe(0x2e66);
    expect(roundF16(65519)).toBe(65504);
    expect(roundF16(65520)).toBe(Infinity);
    // Below half the smallest subnormal: zero; just above: the smallest subnormal.
    expect(roundF16(2 ** -26)).toBe(0);
    expect(roundF16(1.5 * 2 ** -25)).toBe(2 ** -24);
    // Every half survives the round trip, relative error of others ≤ 2^-11.
    for (let h = 0; h < 0x7c00; h += 37) expect(f16Bits(f16Value(h))).toBe(h);
    for (const x of [3.14159, -123.456, 1e-3, 4097.3]) expect(Math.abs(roundF16(x) - x) / Math.abs(x)).toBeLessThanOrEqual(2 ** -11);
  });

  it('packs two halves to an int32, low half first, and unpacks them', () => {
    const v = Float32Array.from([1, -2, 0.5]);
    const packed = packHalves(v, 't');
    expect(Array.from(packed)).toEqual([(0xc000 << 16) | 0x3c00, 0x3800]);
    expect(Array.from(unpackHalves(packed, 3))).toEqual([1, -2, 0.5]);
  });

  it('refuses a value beyond ±65504 or not finite, naming the tensor and the element', () => {
    const v = new Float32Array(10);
    v[7] = 70000;
    expect(() => packHalves(v, 'model.safetensors: lm_head.weight')).toThrow(HalfRangeError);
    expect(() => packHalves(v, 'model.safetensors: lm_head.weight')).toThrow(/lm_head\.weight: element 7 is 70000, beyond what float16 holds \(±65504\).*--precision fp32/);
    v[7] = NaN;
    expect(() => packHalves(v, 'w')).toThrow(/w: element 7 is NaN/);
    v[7] = -65504;
    expect(() => packHalves(v, 'w')).not.toThrow();
  });
});

describe('loading in f16-base', () => {
  const config = parseModelConfig({ ...TINY_QWEN2 });
  const parts = (edit: (t: ReturnType<typeof randomTensors>) => void) => {
    const tensors = randomTensors(config, 1);
    edit(tensors);
    return { name: 'tiny', config: { ...TINY_QWEN2 }, tokenizer: placeholderTokenizer(config.vocabSize), weights: bytesSource('model.safetensors', writeSafetensors(tensors)) };
  };

  it('refuses a weight with a value beyond float16, by file and tensor name, and keeps no tensor', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const name = 'model.layers.1.mlp.down_proj.weight';
    const load = loadModel(
      parts((t) => {
        t.find((x) => x.name === name)!.data[3] = -1e5;
      }),
      'f16-base',
    );
    await expect(load).rejects.toThrow(`model.safetensors: ${name}: element 3 is -100000, beyond what float16 holds`);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stores matrices as halves and vectors (norms, biases) as float32; off the fused WebGPU kernels a forward says why', async () => {
    await tf.setBackend('cpu');
    const m = await loadModel(parts(() => undefined), 'f16-base');
    for (const [name, w] of m.model.weights) expect(isHalf(w), name).toBe(w.shape.length === 2);
    expect(() => tf.tidy(() => m.model.forward(tf.tensor2d([[1, 2]], [1, 2], 'int32')).hidden)).toThrow(
      /model\.safetensors: model\.embed_tokens\.weight is stored in float16 \(precision f16-base\), which runs only on the webgpu backend with the fused kernels/,
    );
    m.model.dispose();
    disposeWeights(m.model.weights);
  });
});

describe("the matrix units' shape for f16-base", () => {
  const config = (componentType: string, resultComponentType: string, M: number, N: number, K: number) => ({ componentType, resultComponentType, M, N, K });

  it("takes an f16 × f16 → f32 shape, square first (NVIDIA's list), and none where there is none", () => {
    const nvidia = [config('f16', 'f32', 16, 8, 16), config('f16', 'f16', 16, 16, 16), config('f16', 'f32', 16, 16, 16), config('f16', 'f32', 16, 8, 8), config('i8', 'i32', 16, 16, 32)];
    expect(pickMatrixShape(nvidia)).toEqual({ M: 16, N: 16, K: 16 });
    expect(pickMatrixShape([config('f32', 'f32', 8, 8, 8), config('f16', 'f32', 8, 8, 8)])).toEqual({ M: 8, N: 8, K: 8 });
    expect(pickMatrixShape([config('f16', 'f32', 16, 8, 16)])).toEqual({ M: 16, N: 8, K: 16 });
    expect(pickMatrixShape([config('f16', 'f16', 16, 16, 16), config('i8', 'i32', 16, 16, 32)])).toBeNull();
    expect(pickMatrixShape([])).toBeNull();
  });
});
