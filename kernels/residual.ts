// The residual stream of a pre-norm decoder, so that a model reads as the math does:
//
//   h = h.add(attn(h.norm(w1, eps)))
//   h = h.add(mlp(h.norm(w2, eps)))
//
// A sum is formed only when something reads it. When that reader is a norm, the add and the
// norm run as one op (`addRmsNorm`: one kernel fused, add then RMSNorm stock), which is why the
// model must not form the sum itself.
import type { tf } from '../src/engine/tf';
import { addRmsNorm, rmsNorm } from './rmsnorm';

export class Residual {
  /** `base + pending` is the stream's value; `pending` waits for its reader. */
  private constructor(
    private base: tf.Tensor,
    private pending: tf.Tensor | null,
  ) {}

  static of(x: tf.Tensor): Residual {
    return new Residual(x, null);
  }

  /** The stream with `delta` added. */
  add(delta: tf.Tensor): Residual {
    return new Residual(this.value(), delta);
  }

  /** RMSNorm of the stream: x · rsqrt(mean(x²) + eps) · w. */
  norm(w: tf.Tensor, eps: number): tf.Tensor {
    if (!this.pending) return rmsNorm(this.base, w, eps);
    const { sum, normed } = addRmsNorm(this.base, this.pending, w, eps);
    this.settle(sum);
    return normed;
  }

  value(): tf.Tensor {
    if (this.pending) this.settle(this.base.add(this.pending));
    return this.base;
  }

  private settle(sum: tf.Tensor): void {
    this.base = sum;
    this.pending = null;
  }
}

export const residual = (x: tf.Tensor): Residual => Residual.of(x);
