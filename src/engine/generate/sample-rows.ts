// The next token of every row from logits [rows, vocab]. With the fused kernels on WebGPU the
// choice is made on the device (kernels/sample.ts) and only the ids come back; elsewhere the
// logits come back and sampling.ts chooses, as it always did. Both take the row's uniform from
// the row's own seeded stream, drawn here, so they draw the same token.
import { tf } from '../tf';
import { fusedActive, sampleOnDevice } from '../../../kernels';
import { sampleToken, type SamplingOptions } from './sampling';

export interface RowDraw {
  /** The row's tokens so far (prompt and generated), for the repetition penalty. */
  history: readonly number[];
  /** The row's own seeded stream: one number per sampled token, none when greedy. */
  random: () => number;
  /** False once the row has finished: nothing is drawn for it (its id is -1). */
  active: boolean;
}

/** Where the next tokens are chosen: 'auto' is the device where the fused kernels run. */
export type SamplerChoice = 'auto' | 'host' | 'device';

export async function sampleRows(logits: tf.Tensor2D, rows: readonly RowDraw[], opts: SamplingOptions, where: SamplerChoice = 'auto'): Promise<number[]> {
  if (logits.shape[0] !== rows.length) throw new Error(`sampleRows: logits for ${logits.shape[0]} rows, ${rows.length} rows given`);
  const sampled = (opts.temperature ?? 0) > 0;
  // The host sampler calls random() once per sampled token and never when greedy: so here.
  const uniforms = rows.map((r) => (r.active && sampled ? r.random() : 0));
  const device = where === 'device' || (where === 'auto' && fusedActive());
  if (device) {
    const ids = sampleOnDevice(logits, rows.map((r) => (r.active ? r.history : [])), uniforms, opts);
    const got = Array.from(await ids.data());
    ids.dispose();
    return got.map((id, i) => (rows[i]!.active ? id : -1));
  }
  const all = (await logits.data()) as Float32Array;
  const vocab = logits.shape[1];
  return rows.map((r, i) => (r.active ? sampleToken(all.subarray(i * vocab, (i + 1) * vocab), r.history, opts, () => uniforms[i]!) : -1));
}
