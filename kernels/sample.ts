// Sampling on the device: logits [rows, V] in, one token id per row out, so that a decode step
// reads back `rows` numbers instead of rows × V. One dispatch (sample.wgsl.ts says how); the
// host sampler (src/engine/generate/sampling.ts) is its specification and, on cpu and wasm, the
// fallback (src/engine/generate/sample-rows.ts chooses).
import { tf } from '../src/engine/tf';
import { dispatch } from './dispatch';
import { f32, i32, type Program } from './program';
import { defineKernel, runKernelMulti } from './register';
import { sampleWgsl } from './sample.wgsl';

export const SAMPLE_TOKENS = 'WebLoraSampleTokens';

/** The host sampler's options (sampling.ts), as the kernel reads them. */
export interface DeviceSampling {
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
}

const WG = 256;

export function sampleProgram(logits: tf.TensorInfo, seen: tf.TensorInfo, u: tf.TensorInfo, attrs: tf.NamedAttrMap): Program {
  const [rows, vocab] = logits.shape;
  return {
    name: `sample_${WG}`,
    outputs: { result: [rows], PEN: [rows, vocab] },
    inputs: { LOGITS: logits, SEEN: seen, U: u },
    uniforms: {
      vocab: i32(vocab),
      seen: i32(seen.shape[1]),
      temperature: f32(attrs.temperature as number),
      topK: i32(attrs.topK as number),
      topP: f32(attrs.topP as number),
      penalty: f32(attrs.penalty as number),
    },
    workgroupSize: [WG, 1, 1],
    dispatch: [rows, 1, 1],
    flat: false,
    code: sampleWgsl(WG),
  };
}

defineKernel(SAMPLE_TOKENS, ({ inputs, backend, attrs }) => dispatch(backend, sampleProgram(inputs.logits, inputs.seen, inputs.u, attrs)));

/**
 * The next token of each row of `logits` [rows, V] (webgpu only): `histories[r]` the row's tokens
 * so far (for the repetition penalty), `uniforms[r]` its draw in [0, 1) (unused when greedy).
 * Returns the ids [rows] (float32); the caller reads them back and disposes them.
 */
export function sampleOnDevice(logits: tf.Tensor2D, histories: readonly (readonly number[])[], uniforms: readonly number[], opts: DeviceSampling): tf.Tensor1D {
  if (tf.getBackend() !== 'webgpu') throw new Error('sampleOnDevice: the webgpu backend is not active; sample on the host (sampling.ts)');
  const [rows, vocab] = logits.shape;
  if (histories.length !== rows || uniforms.length !== rows) throw new Error(`sampleOnDevice: ${rows} rows of logits, ${histories.length} histories, ${uniforms.length} uniforms`);
  const penalty = opts.repetitionPenalty ?? 1;
  // Distinct ids only: the host penalises each seen token once.
  const seen = histories.map((h) => (penalty === 1 ? [] : [...new Set(h)]));
  const width = Math.max(1, ...seen.map((s) => s.length));
  const seenFlat = new Int32Array(rows * width).fill(-1);
  seen.forEach((s, r) => seenFlat.set(s, r * width));
  const topK = opts.topK && opts.topK > 0 ? Math.min(Math.trunc(opts.topK), vocab) : 0;
  const topP = opts.topP !== undefined && opts.topP < 1 ? opts.topP : 1;
  const attrs = { temperature: opts.temperature ?? 0, topK, topP, penalty };
  return tf.tidy(() => {
    const seenT = tf.tensor2d(seenFlat, [rows, width], 'int32');
    const u = tf.tensor1d(Float32Array.from(uniforms), 'float32');
    const [ids, scratch] = runKernelMulti(SAMPLE_TOKENS, { logits, seen: seenT, u }, attrs);
    scratch.dispose();
    return ids as tf.Tensor1D;
  });
}
