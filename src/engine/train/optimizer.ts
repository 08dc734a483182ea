// AdamW exactly as PyTorch's torch.optim.AdamW (decoupled decay applied first, bias
// corrections folded into the step size and denominator), on the LoRA variables only.
// TF.js's own Adam differs (eps 1e-7, coupled decay), and resume needs state we can save.
import { tf } from '../tf';
import { assignData, newVariable } from '../variables';
import { adamwUpdate, fusedActive, sumOfSquares } from '../../../kernels';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

export interface AdamWState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export class AdamW {
  step = 0;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];

  constructor(
    private readonly params: tf.Variable[],
    private readonly opts: AdamWOptions = ADAMW_DEFAULTS,
  ) {
    this.m = params.map((p) => newVariable(() => tf.zerosLike(p), false));
    this.v = params.map((p) => newVariable(() => tf.zerosLike(p), false));
  }

  apply(grads: tf.Tensor[], lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.opts;
    const { stepSize, sqrtBc2 } = this.advance(lr);
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g = grads[i];
        const m = this.m[i].mul(beta1).add(g.mul(1 - beta1));
        const v = this.v[i].mul(beta2).add(g.square().mul(1 - beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const decayed = weightDecay ? p.mul(1 - lr * weightDecay) : p;
        const denom = v.sqrt().div(sqrtBc2).add(eps);
        p.assign(decayed.sub(m.div(denom).mul(stepSize)));
      });
    });
  }

  /**
   * Clips the gradients to a global L2 norm of maxNorm (≤ 0: no clipping), applies one AdamW
   * step and returns the norm before clipping. With the fused kernels on, this is ⌈n/6⌉ + n + 1
   * dispatches for n variables instead of ~16 per variable.
   */
  clipAndApply(grads: tf.Tensor[], lr: number, maxNorm: number): tf.Scalar {
    if (!fusedActive()) {
      return tf.tidy(() => {
        const { grads: clipped, norm } = clipByGlobalNorm(grads, maxNorm);
        this.apply(clipped, lr);
        return norm;
      });
    }
    const { beta1, beta2, eps, weightDecay } = this.opts;
    const step = { beta1, beta2, eps, decay: 1 - lr * weightDecay, ...this.advance(lr), maxNorm: maxNorm > 0 ? maxNorm : 0 };
    return tf.tidy(() => {
      const normSq = sumOfSquares(grads);
      this.params.forEach((p, i) => {
        const next = adamwUpdate(p, this.m[i], this.v[i], grads[i], normSq, step);
        p.assign(next.p);
        this.m[i].assign(next.m);
        this.v[i].assign(next.v);
      });
      return normSq.sqrt().reshape([]) as tf.Scalar;
    });
  }

  /** Counts the step; its bias corrections, folded as PyTorch does: lr / (1 − β1^t) and √(1 − β2^t). */
  private advance(lr: number): { stepSize: number; sqrtBc2: number } {
    this.step++;
    const { beta1, beta2 } = this.opts;
    return { stepSize: lr / (1 - Math.pow(beta1, this.step)), sqrtBc2: Math.sqrt(1 - Math.pow(beta2, this.step)) };
  }

  async getState(): Promise<AdamWState> {
    return {
      step: this.step,
      // Copies (see Trainer.checkpoint): on the cpu backend data() is the tensor's own storage.
      m: await Promise.all(this.m.map(async (t) => ((await t.data()) as Float32Array).slice())),
      v: await Promise.all(this.v.map(async (t) => ((await t.data()) as Float32Array).slice())),
    };
  }

  setState(state: AdamWState): void {
    if (state.m.length !== this.m.length) {
      throw new Error(`optimizer state has ${state.m.length} tensors but the adapter has ${this.m.length}`);
    }
    this.step = state.step;
    state.m.forEach((d, i) => assignData(this.m[i], d));
    state.v.forEach((d, i) => assignData(this.v[i], d));
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/**
 * Scales gradients so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_,
 * including its 1e-6 in the denominator). Returns the clipped gradients and the norm before.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: tf.Scalar } {
  // A chain of adds, not addN: WebGPU binds every addN input as its own storage buffer and
  // an adapter may allow only 8 per shader stage (SwiftShader does), far fewer than 2 × layers.
  const squares = grads.map((g) => g.square().sum());
  const norm = tf.sqrt(squares.reduce((a, b) => a.add(b))) as tf.Scalar;
  if (!(maxNorm > 0)) return { grads, norm };
  const coef = tf.minimum(tf.scalar(maxNorm).div(norm.add(1e-6)), 1);
  return { grads: grads.map((g) => g.mul(coef)), norm };
}
