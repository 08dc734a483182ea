// The kernel-mode switch on the cpu backend: 'fused' is inert off webgpu (every op runs its
// stock composition, bit for bit), and the switch itself validates and restores.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import {
  addRmsNorm,
  causalAttention,
  fusedActive,
  getKernelMode,
  linear,
  linears,
  residual,
  rmsNorm,
  ropeQkv,
  setKernelMode,
  swiglu,
  withKernelMode,
  type KernelMode,
} from '../../kernels';
import { mulberry32 } from '../../src/engine/rng';

function rand(shape: number[], seed: number): tf.Tensor {
  const r = mulberry32(seed);
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1), shape);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('kernel mode switch', () => {
  it('defaults to fused and rejects unknown modes', () => {
    expect(getKernelMode()).toBe('fused');
    expect(() => setKernelMode('turbo' as KernelMode)).toThrow(/fused|stock/);
    expect(getKernelMode()).toBe('fused');
  });

  it('withKernelMode restores the previous mode, also after a throw', () => {
    expect(withKernelMode('stock', () => getKernelMode())).toBe('stock');
    expect(getKernelMode()).toBe('fused');
    expect(() =>
      withKernelMode('stock', () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(getKernelMode()).toBe('fused');
  });

  it('initBackend sets the mode it is given, and reports stock off webgpu', async () => {
    const info = await initBackend({ prefer: 'cpu', kernels: 'stock' });
    expect(getKernelMode()).toBe('stock');
    expect(info.kernels).toBe('stock');
    const again = await initBackend({ prefer: 'cpu' });
    expect(getKernelMode()).toBe('fused');
    expect(again.kernels).toBe('stock');
  });

  it('fused is inactive off webgpu', () => {
    expect(withKernelMode('fused', () => fusedActive())).toBe(false);
  });

  it('every op gives the same values and gradients in both modes on cpu', async () => {
    const x = rand([2, 3, 8], 1);
    const d = rand([2, 3, 8], 2);
    const w = rand([8], 3);
    const lw = rand([5, 8], 4);
    const a = rand([2, 8], 5);
    const b = rand([5, 2], 6);
    const q = rand([2, 3, 4, 8], 7);
    const k = rand([2, 3, 2, 8], 8);
    const v = rand([2, 3, 2, 8], 9);
    const cos = rand([2, 1, 3, 8], 10);
    const sin = rand([2, 1, 3, 8], 11);
    const mask = tf.tensor2d([1, 1, 1, 1, 1, 0], [2, 3], 'int32');
    const f = (xx: tf.Tensor, aa: tf.Tensor, bb: tf.Tensor, qq: tf.Tensor) => {
      const { sum, normed } = addRmsNorm(xx, d, w, 1e-5);
      const lin = linear(rmsNorm(sum, w, 1e-5), { w: lw, lora: { a: aa, b: bb, scaling: 2 } });
      const r = ropeQkv(qq as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, cos, sin);
      const att = causalAttention(r.q, r.k, r.v, mask);
      return tf.concat([swiglu(lin, lin.mul(0.5)).reshape([-1]), normed.reshape([-1]), att.reshape([-1])]);
    };
    const run = async (mode: KernelMode) => {
      const out = withKernelMode(mode, () => tf.tidy(() => [f(x, a, b, q), ...tf.grads(f)([x, a, b, q])]));
      const data = await Promise.all(out.map((t) => t.data()));
      tf.dispose(out);
      return data;
    };
    expect(await run('fused')).toEqual(await run('stock'));
    tf.dispose([x, d, w, lw, a, b, q, k, v, cos, sin, mask]);
  });

  it('the residual stream is the plain sum, and its norm the norm of that sum', async () => {
    const x = rand([2, 3, 8], 21);
    const d = rand([2, 3, 8], 22);
    const w = rand([8], 23);
    const got = tf.tidy(() => {
      const h = residual(x).add(d);
      const normed = h.norm(w, 1e-5);
      return [normed, h.value(), h.add(d).value()];
    });
    const want = tf.tidy(() => [rmsNorm(x.add(d), w, 1e-5), x.add(d), x.add(d).add(d)]);
    for (let i = 0; i < got.length; i++) expect(await got[i].data()).toEqual(await want[i].data());
    tf.dispose([x, d, w, ...got, ...want]);
  });

  it('linears equals linear of each, with biases, LoRA and dropout', async () => {
    const x = rand([2, 3, 8], 31);
    const dense = [0, 1, 2].map((i) => ({
      w: rand([5 + i, 8], 32 + i),
      bias: i === 1 ? rand([6], 40) : undefined,
      lora: i === 2 ? undefined : { a: rand([2, 8], 41 + i), b: rand([5 + i, 2], 44 + i), scaling: 1.5, dropout: { rate: 0.25, seed: 7 + i } },
    }));
    const got = tf.tidy(() => linears(x, dense));
    const want = tf.tidy(() => dense.map((dd) => linear(x, dd)));
    for (let i = 0; i < got.length; i++) expect(await got[i].data()).toEqual(await want[i].data());
    tf.dispose([x, ...got, ...want, ...dense.flatMap((dd) => [dd.w, dd.bias, dd.lora?.a, dd.lora?.b].filter((t): t is tf.Tensor => !!t))]);
  });
});
