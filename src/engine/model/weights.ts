// Checkpoint tensors -> frozen TF.js tensors, checked against what the config expects.
// Tensors stay in PyTorch's [out, in] layout: matMul(x, W, false, true) reads it directly,
// so loading never transposes (no extra copy of a 500 MB model).
import { tf } from '../tf';
import { expectedTensorShapes, type ModelConfig } from './config';
import type { SafetensorsFile } from './safetensors';
import { HalfWeight, type FrozenWeight } from '../../../kernels/half';
import type { Precision } from '../../../kernels/precision';

/** By checkpoint name; under precision 'f16-base' the matmul weights are HalfWeights. */
export type WeightMap = Map<string, FrozenWeight>;

export class WeightsError extends Error {
  override name = 'WeightsError';
}

/** Tensors some checkpoints carry that the decoder does not need. */
const IGNORABLE = [/rotary_emb\.inv_freq$/, /^lm_head\.weight$/];

/** Names missing from the checkpoint, names of the wrong shape; unknown extras are reported too. */
export function checkCheckpoint(
  file: Pick<SafetensorsFile, 'name' | 'tensors'>,
  config: ModelConfig,
): { missing: string[]; mismatched: string[]; unexpected: string[] } {
  const expected = expectedTensorShapes(config);
  const missing: string[] = [];
  const mismatched: string[] = [];
  for (const [name, shape] of expected) {
    const entry = file.tensors.get(name);
    if (!entry) missing.push(name);
    else if (entry.shape.join(',') !== shape.join(',')) {
      mismatched.push(`${name} has shape [${entry.shape}] but the config needs [${shape}]`);
    }
  }
  const unexpected = [...file.tensors.keys()].filter(
    (n) => !expected.has(n) && !IGNORABLE.some((re) => re.test(n)),
  );
  return { missing, mismatched, unexpected };
}

function listed(names: string[], max = 8): string {
  const head = names.slice(0, max).join('; ');
  return names.length > max ? `${head}; … and ${names.length - max} more` : head;
}

/**
 * Whether `name` is stored in halves under 'f16-base': every matrix (the linears, the embedding,
 * lm_head). Norm weights and biases are vectors and stay float32.
 */
export const storedAsHalf = (shape: readonly number[]): boolean => shape.length === 2;

export async function loadWeights(file: SafetensorsFile, config: ModelConfig, precision: Precision = 'fp32'): Promise<WeightMap> {
  const { missing, mismatched, unexpected } = checkCheckpoint(file, config);
  const problems: string[] = [];
  if (missing.length) problems.push(`missing tensors: ${listed(missing)}`);
  if (mismatched.length) problems.push(`tensors of the wrong shape: ${listed(mismatched)}`);
  if (unexpected.length) problems.push(`tensors this ${config.family} config does not use: ${listed(unexpected)}`);
  if (problems.length) {
    throw new WeightsError(`${file.name} does not match config.json — ${problems.join('. ')}`);
  }
  const weights: WeightMap = new Map();
  // One tensor at a time: the float32 buffer read from disk becomes the tensor's data (or, in
  // f16-base, is converted to halves — refused by name if a value is beyond float16's range).
  try {
    for (const [name, shape] of expectedTensorShapes(config)) {
      const values = await file.readFloat32(name);
      weights.set(name, precision === 'f16-base' && storedAsHalf(shape) ? HalfWeight.fromFloat32(values, shape, `${file.name}: ${name}`) : tf.tensor(values, shape, 'float32'));
    }
  } catch (e) {
    disposeWeights(weights);
    throw e;
  }
  return weights;
}

export function disposeWeights(weights: WeightMap): void {
  for (const t of weights.values()) t.dispose();
  weights.clear();
}
