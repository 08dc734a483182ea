// A LoRA adapter that changes the model: on every linear, with random B (a fresh adapter's B = 0
// would leave every output as the base model's, and a base-vs-tuned comparison could not fail).
import { tf } from '../../src/engine/tf';
import { createLoraAdapter, TARGET_PRESETS, type LoraAdapter } from '../../src/engine/lora/lora';
import type { Decoder } from '../../src/engine/model/decoder';
import { mulberry32 } from '../../src/engine/rng';

export function randomAdapter(model: Decoder, seed: number): LoraAdapter {
  const adapter = createLoraAdapter(model.config, { r: 4, alpha: 8, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] }, mulberry32(seed));
  const random = mulberry32(seed + 1);
  for (const l of adapter.layers.values()) {
    l.b.assign(tf.tidy(() => tf.tensor(Array.from({ length: l.b.size }, () => (random() * 2 - 1) * 0.5), l.b.shape)));
  }
  return adapter;
}
