// Folding an adapter into the base weights (W ← W + s·B·A) and back out. Merged weights serve
// generation at base-model cost and the "export merged model" download.
import { tf } from '../tf';
import type { WeightMap } from '../model/weights';
import type { ModelConfig } from '../model/config';
import { expectedTensorShapes } from '../model/config';
import { writeSafetensors } from '../model/safetensors';
import type { LoraAdapter, LoraLayer } from './lora';
import { refuseNonFinite } from './peft';
import { float32Weight, isHalf } from '../../../kernels/half';

/** W + sign·s·B·A. */
function merged(w: tf.Tensor, layer: LoraLayer, scaling: number, sign: 1 | -1 = 1): tf.Tensor {
  return tf.tidy(() => w.add(tf.matMul(layer.b, layer.a).mul(sign * scaling)));
}

function shift(weights: WeightMap, adapter: LoraAdapter, sign: 1 | -1): void {
  for (const [path, layer] of adapter.layers) {
    const name = `${path}.weight`;
    const w = weights.get(name);
    if (!w) throw new Error(`cannot merge: the model has no weight ${name}`);
    // Merging in place needs float32 weights: under f16-base the sum would be rounded to halves.
    const next = merged(float32Weight(w), layer, layer.scaling, sign);
    w.dispose();
    weights.set(name, next);
  }
}

export function mergeAdapter(weights: WeightMap, adapter: LoraAdapter): void {
  shift(weights, adapter, 1);
}

export function unmergeAdapter(weights: WeightMap, adapter: LoraAdapter): void {
  shift(weights, adapter, -1);
}

/** model.safetensors of the base model with the adapter merged (the base weights untouched). */
export async function mergedSafetensors(weights: WeightMap, config: ModelConfig, adapter: LoraAdapter): Promise<Uint8Array> {
  const tensors: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
  for (const [name, shape] of expectedTensorShapes(config)) {
    const stored = weights.get(name)!;
    // Halves (f16-base) are exact in float32: the merge is of the weights the run trained on.
    const w = isHalf(stored) ? tf.tensor(await stored.float32(), shape) : stored;
    const layer = name.endsWith('.weight') ? adapter.layers.get(name.slice(0, -'.weight'.length)) : undefined;
    if (layer) refuseNonFinite([{ name: `${name} (its LoRA A)`, data: (await layer.a.data()) as Float32Array }, { name: `${name} (its LoRA B)`, data: (await layer.b.data()) as Float32Array }], 'refusing to merge the adapter');
    const t = layer ? merged(w, layer, layer.scaling) : w;
    tensors.push({ name, shape, data: (await t.data()) as Float32Array });
    if (t !== w) t.dispose();
    if (w !== stored) w.dispose();
  }
  return writeSafetensors(tensors, { format: 'pt' });
}
