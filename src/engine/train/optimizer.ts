// AdamW exactly as PyTorch's torch.optim.AdamW (decoupled decay applied first, bias
// corrections folded into the step size and denominator), on the LoRA variables only.
// TF.js's own Adam differs (eps 1e-7, coupled decay), and resume needs state we can save.
// This class holds the state and counts the steps; the step itself is an op of kernels/adamw.ts.
import { tf } from '../tf';
import { assignData, newVariable } from '../variables';
import { adamwStock, clippedAdamw, globalNormSquared, type AdamWHyper, type AdamWSlot } from '../../../kernels';

export { clipByGlobalNorm } from '../../../kernels';

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

  /** One AdamW step without clipping, as stock TF.js ops. */
  apply(grads: tf.Tensor[], lr: number): void {
    adamwStock(this.slots(), grads, this.advance(lr, 0));
  }

  /**
   * Clips the gradients to a global L2 norm of maxNorm (≤ 0: no clipping), applies one AdamW
   * step and returns the norm before clipping. With the fused kernels on, this is ⌈n/6⌉ + n + 1
   * dispatches for n variables instead of ~16 per variable. `normSq`: the gradients' Σ g² when
   * already computed (gradNormSquared), e.g. to check it before the step.
   */
  clipAndApply(grads: tf.Tensor[], lr: number, maxNorm: number, normSq?: tf.Tensor): tf.Scalar {
    return clippedAdamw(this.slots(), grads, this.advance(lr, maxNorm), normSq);
  }

  /** Σ g² over all gradients, [1]: the squared global norm clipping uses. */
  gradNormSquared(grads: tf.Tensor[]): tf.Tensor {
    return globalNormSquared(grads);
  }

  private slots(): AdamWSlot[] {
    return this.params.map((p, i) => ({ p, m: this.m[i], v: this.v[i] }));
  }

  /** Counts the step; its bias corrections, folded as PyTorch does: lr / (1 − β1^t) and √(1 − β2^t). */
  private advance(lr: number, maxNorm: number): AdamWHyper {
    this.step++;
    const { beta1, beta2 } = this.opts;
    return { ...this.opts, lr, maxNorm, stepSize: lr / (1 - Math.pow(beta1, this.step)), sqrtBc2: Math.sqrt(1 - Math.pow(beta2, this.step)) };
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
