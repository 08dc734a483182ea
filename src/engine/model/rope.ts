// Rotary inverse frequencies, with the rope_scaling variants Hugging Face applies to them.
import { tf } from '../tf';
import type { ModelConfig } from './config';

export function ropeInverseFrequencies(c: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float32Array {
  const half = c.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(c.ropeTheta, (2 * i) / c.headDim);
  const s = c.ropeScaling;
  if (s?.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] /= s.factor;
  } else if (s?.type === 'llama3') {
    // transformers' _compute_llama3_parameters: long wavelengths are slowed by `factor`,
    // short ones kept, and the band between is interpolated smoothly.
    const low = s.lowFreqFactor ?? 1;
    const high = s.highFreqFactor ?? 4;
    const oldLen = s.originalMaxPositionEmbeddings ?? 8192;
    const lowWavelen = oldLen / low;
    const highWavelen = oldLen / high;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowWavelen) inv[i] /= s.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (oldLen / wavelen - low) / (high - low);
        inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
      }
    }
  }
  return Float32Array.from(inv);
}

export interface RopeTable {
  length: number;
  /** [length, headDim]: HF's layout, the half-dim angles repeated twice. */
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
}

/** Tables for positions 0..length-1, kept out of any tidy scope (the model owns them). */
export function ropeTable(c: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>, length: number): RopeTable {
  const inv = ropeInverseFrequencies(c);
  const half = c.headDim / 2;
  const cos = new Float32Array(length * c.headDim);
  const sin = new Float32Array(length * c.headDim);
  for (let p = 0; p < length; p++) {
    for (let i = 0; i < half; i++) {
      // The angle is rounded to float32 first, as HF computes it, then cos/sin in float64.
      const angle = Math.fround(p * inv[i]);
      const row = p * c.headDim;
      cos[row + i] = cos[row + i + half] = Math.cos(angle);
      sin[row + i] = sin[row + i + half] = Math.sin(angle);
    }
  }
  return {
    length,
    cos: tf.keep(tf.tensor2d(cos, [length, c.headDim])),
    sin: tf.keep(tf.tensor2d(sin, [length, c.headDim])),
  };
}
