// Masked next-token cross-entropy. Only trained positions are gathered before the lm_head,
// so prompt and padding rows never become [tokens, vocab] logits at all.
import { tf } from '../tf';
import type { Decoder } from '../model/decoder';
import { lmHeadCrossEntropy, selectRows } from '../../../kernels';

/** Flat indices (b·T + t) of the positions with a target, and those targets. */
export function trainedPositions(targets: Int32Array): { rows: Int32Array; labels: Int32Array } {
  let n = 0;
  for (const t of targets) if (t >= 0) n++;
  const rows = new Int32Array(n);
  const labels = new Int32Array(n);
  let k = 0;
  for (let i = 0; i < targets.length; i++) {
    if (targets[i] >= 0) {
      rows[k] = i;
      labels[k++] = targets[i];
    }
  }
  return { rows, labels };
}

/**
 * Σ over trained positions of −log p(target); hidden is [B, T, H]. With the fused kernels on,
 * the lm_head and the cross-entropy run as one op that never holds [rows, vocab] logits.
 */
export function summedCrossEntropy(model: Pick<Decoder, 'headWeight'>, hidden: tf.Tensor3D, targets: Int32Array): tf.Scalar {
  const { rows, labels } = trainedPositions(targets);
  if (rows.length === 0) return tf.scalar(0);
  const [b, t, h] = hidden.shape;
  const picked = selectRows(hidden.reshape([b * t, h]), rows);
  return lmHeadCrossEntropy(picked, model.headWeight(), labels).sum() as tf.Scalar;
}
