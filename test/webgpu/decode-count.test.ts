// GPU dispatches per decoded token at real model sizes, counted without running them (the
// benchmark's count-only mode, bench/lib/dispatch.ts: every pipeline built, every buffer bound,
// every dispatch issued and counted, none executed; test/webgpu/bench-count-only.test.ts shows such
// counts equal executed ones). The weights are zeros: the count depends on shapes only. Batch 2,
// base and tuned rows (Compare's case), LoRA r 16 on every linear: the fused decode step issues
// exactly 5 per layer + 2, against the model's forward with past keys and values.
import { beforeAll, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { expectedTensorShapes, parseModelConfig } from '../../src/engine/model/config';
import { createDecoder } from '../../src/engine/model/load';
import type { WeightMap } from '../../src/engine/model/weights';
import { createLoraAdapter, disposeAdapter, TARGET_PRESETS } from '../../src/engine/lora/lora';
import { createDecodeSession } from '../../src/engine/generate/decode-session';
import { executeDispatches, installDispatchCounter, placeholderBuffers, since, snapshot, type GpuCounts } from '../../bench/lib/dispatch';
import { mulberry32 } from '../../src/engine/rng';
import { QWEN2_5_0_5B, SMOLLM2_135M, type HubConfig } from '../helpers/random-model';
import { dawnSwiftShader } from '../helpers/backend-suite';

let counter: GpuCounts;
beforeAll(async () => {
  await dawnSwiftShader();
  expect((await initBackend({ prefer: 'webgpu', kernels: 'fused' })).kernels).toBe('fused');
  counter = installDispatchCounter()!;
  executeDispatches(false);
  placeholderBuffers();
});

it.each([
  ['SmolLM2-135M', SMOLLM2_135M, 200],
  ['Qwen2.5-0.5B', QWEN2_5_0_5B, 200],
] as [string, HubConfig, number][])('%s: dispatches per decoded token = 5 per layer + 2 (≤ 200), count-only', async (name, raw, limit) => {
  const config = parseModelConfig({ ...raw });
  const weights: WeightMap = new Map([...expectedTensorShapes(config)].map(([n, shape]) => [n, tf.zeros(shape)]));
  const model = createDecoder(config, weights);
  const adapter = createLoraAdapter(config, { r: 16, alpha: 32, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] }, mulberry32(1));
  const rows = [false, true];
  const prompt = Array.from({ length: 8 }, (_, i) => i + 1);
  try {
    const s = createDecodeSession(model, { rows: 2, capacity: 16, adapter });
    expect(s.fused, s.fallbackReason ?? '').toBe(true);
    tf.dispose(s.prefill([prompt, prompt], rows));
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = snapshot(counter);
      tf.dispose(s.step([1, 2], rows));
      counts.push(since(counter, before).dispatches);
    }
    s.dispose();

    // The model's forward with past keys and values for one token per row (what generation ran before).
    const past = tf.tidy(() => model.forward(tf.tensor2d([prompt, prompt], [2, 8], 'int32'), { adapter, adapterRows: rows }).present);
    const before = snapshot(counter);
    tf.dispose(
      tf.tidy(() => {
        const { hidden } = model.forward(tf.tensor2d([1, 2], [2, 1], 'int32'), { past, adapter, adapterRows: rows, attentionMask: tf.ones([2, 9], 'int32') });
        return model.logits(hidden.reshape([2, -1]));
      }),
    );
    const forward = since(counter, before).dispatches;
    tf.dispose([...past.keys, ...past.values]);

    console.log(`${name} (${config.numLayers} layers), batch 2 base + tuned, LoRA r 16 on all linears: dispatches per token ${counts[0]} fused decode step, ${forward} forward with past keys`);
    expect(counts).toEqual([0, 0, 0].map(() => 5 * config.numLayers + 2));
    expect(counts[0]).toBeLessThanOrEqual(limit);
    expect(counts[0]).toBeLessThan(forward);
  } finally {
    disposeAdapter(adapter);
    model.dispose();
    for (const t of weights.values()) (t as tf.Tensor).dispose();
  }
});
