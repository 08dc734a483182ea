import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { AdamW, clipByGlobalNorm } from '../../src/engine/train/optimizer';
import { learningRate } from '../../src/engine/train/schedule';
import { mulberry32 } from '../../src/engine/rng';

/** torch.optim.AdamW's update written out in float64, the independent reference. */
function torchAdamW(p: number[], grads: number[][], lr: number[], wd: number): number[] {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, t) => {
    const step = t + 1;
    for (let i = 0; i < p.length; i++) {
      p[i] *= 1 - lr[t] * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const bc1 = 1 - b1 ** step;
      const bc2 = 1 - b2 ** step;
      p[i] -= (lr[t] / bc1) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps));
    }
  });
  return p;
}

describe('AdamW, clipping and schedules', () => {
  beforeAll(() => tf.setBackend('cpu'));

  it('AdamW matches PyTorch semantics (decoupled decay, eps 1e-8 outside the sqrt)', () => {
    const r = mulberry32(2);
    const init = Array.from({ length: 10 }, () => r() * 2 - 1);
    const grads = Array.from({ length: 4 }, () => init.map(() => (r() * 2 - 1) * 1e-3));
    const lrs = [1e-2, 5e-3, 5e-3, 1e-3];
    const v = tf.variable(tf.tensor1d(init));
    const opt = new AdamW([v], { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 });
    grads.forEach((g, t) => {
      const gt = tf.tensor1d(g);
      opt.apply([gt], lrs[t]);
      gt.dispose();
    });
    const want = torchAdamW(init.slice(), grads, lrs, 0.1);
    const got = v.dataSync();
    want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 6));
    expect(opt.step).toBe(4);
  });

  it('AdamW state round-trips (resume)', async () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const opt = new AdamW([v]);
    opt.apply([tf.tensor1d([0.1, -0.2, 0.3])], 0.1);
    const state = await opt.getState();
    const w = tf.variable(tf.tensor1d(Array.from(v.dataSync())));
    const other = new AdamW([w]);
    other.setState(state);
    opt.apply([tf.tensor1d([0.3, 0.1, -0.1])], 0.1);
    other.apply([tf.tensor1d([0.3, 0.1, -0.1])], 0.1);
    expect(Array.from(w.dataSync())).toEqual(Array.from(v.dataSync()));
  });

  it('clips by global norm like torch.nn.utils.clip_grad_norm_', () => {
    const g = [tf.tensor1d([3, 0]), tf.tensor1d([0, 4])];
    const { grads, norm } = clipByGlobalNorm(g, 1);
    expect(norm.dataSync()[0]).toBeCloseTo(5, 6);
    expect(Array.from(grads[0].dataSync())[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    const small = clipByGlobalNorm([tf.tensor1d([0.3, 0.4])], 1);
    expect(Array.from(small.grads[0].dataSync())).toEqual([0.30000001192092896, 0.4000000059604645]);
  });

  it('schedules follow transformers: linear warmup from 0, cosine/linear decay to 0, constant', () => {
    expect(learningRate(0, 1, 10, 110, 'cosine')).toBe(0);
    expect(learningRate(5, 1, 10, 110, 'cosine')).toBe(0.5);
    expect(learningRate(10, 1, 10, 110, 'cosine')).toBe(1);
    expect(learningRate(60, 1, 10, 110, 'cosine')).toBeCloseTo(0.5, 12);
    expect(learningRate(110, 1, 10, 110, 'cosine')).toBeCloseTo(0, 12);
    expect(learningRate(60, 1, 10, 110, 'linear')).toBeCloseTo(0.5, 12);
    expect(learningRate(100, 1, 10, 110, 'constant')).toBe(1);
  });
});
