// A tiny Gemma 3 (sliding and full layers, window 3 < T, head_dim 16 ≠ hidden/heads, query scale
// ≠ 1/√head_dim) with the fused kernels equals the same model on stock TF.js ops on Dawn/SwiftShader:
// the logits of every position of a padded batch — full rows, left padding, and right padding
// longer than the window (rows that see no key) — and the loss and every LoRA gradient of one
// training forward + backward (LoRA on all linears, non-zero B, dropout), within 1e-4. The
// Gemma-specific fused kernels (GeGLU, windowed attention) are checked to have run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { parseModelConfig } from '../../src/engine/model/config';
import { createDecoder } from '../../src/engine/model/load';
import type { Decoder } from '../../src/engine/model/decoder';
import { disposeWeights, type WeightMap } from '../../src/engine/model/weights';
import { createLoraAdapter, disposeAdapter, loraVariables, TARGET_PRESETS, type LoraAdapter } from '../../src/engine/lora/lora';
import { summedCrossEntropy } from '../../src/engine/train/loss';
import { assignData } from '../../src/engine/variables';
import { mulberry32 } from '../../src/engine/rng';
import { withKernelMode, type KernelMode } from '../../kernels';
import { GEGLU, GEGLU_GRAD } from '../../kernels/geglu';
import { ATTENTION, ATTENTION_GRAD_KV, ATTENTION_GRAD_Q, ATTENTION_STATS } from '../../kernels/attention';
import { LM_HEAD_CE } from '../../kernels/cross-entropy';
import { randomWeights, TINY_GEMMA3 } from '../helpers/random-model';
import { randomIds } from '../helpers/model-forward';
import { dawnSwiftShader, maxRelativeError } from '../helpers/backend-suite';

const config = parseModelConfig({ ...TINY_GEMMA3 });
const [B, T] = [3, 9];
const pad = (real: number[], left: number, right: number) => [...new Array(left).fill(0), ...real, ...new Array(right).fill(0)];
const ids = [randomIds(T, config.vocabSize, 1), pad(randomIds(T - 3, config.vocabSize, 2), 3, 0), pad(randomIds(T - 5, config.vocabSize, 3), 0, 5)].flat();
const mask = [new Array(T).fill(1), pad(new Array(T - 3).fill(1), 3, 0), pad(new Array(T - 5).fill(1), 0, 5)].flat();
// Next-token targets where both tokens are real.
const targets = Int32Array.from(ids.map((_, i) => (i % T === T - 1 || !mask[i] || !mask[i + 1] ? -1 : ids[i + 1]!)));

describe('tiny Gemma 3: fused kernels equal stock ops on WebGPU (Dawn, SwiftShader)', () => {
  let weights: WeightMap;
  let model: Decoder;
  let adapter: LoraAdapter;
  beforeAll(async () => {
    await dawnSwiftShader();
    expect((await initBackend({ prefer: 'webgpu' })).name).toBe('webgpu');
    weights = randomWeights(config, 7, { std: 0.3, normJitter: 0.3 });
    model = createDecoder(config, weights);
    adapter = createLoraAdapter(config, { r: 4, alpha: 8, dropout: 0.1, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] }, mulberry32(5));
    const r = mulberry32(9);
    for (const l of adapter.layers.values()) assignData(l.b, Float32Array.from({ length: l.b.size }, () => (r() * 2 - 1) * 0.3));
  });
  afterAll(() => {
    disposeAdapter(adapter);
    model.dispose();
    disposeWeights(weights);
  });

  const inputs = () => ({ ids: tf.tensor2d(ids, [B, T], 'int32'), attentionMask: tf.tensor2d(mask, [B, T], 'int32') });

  /** Logits of every position, LoRA applied, and the kernels that ran. */
  async function logits(mode: KernelMode): Promise<{ values: Float32Array; kernels: string[] }> {
    const profile = await tf.profile(() =>
      withKernelMode(mode, () =>
        tf.tidy(() => {
          const { ids: x, attentionMask } = inputs();
          return model.logits(model.forward(x, { attentionMask, adapter }).hidden);
        }),
      ),
    );
    const t = profile.result as tf.Tensor;
    const values = (await t.data()) as Float32Array;
    t.dispose();
    return { values, kernels: profile.kernelNames };
  }

  /** The summed loss and the gradient of every LoRA variable, from one training forward. */
  async function gradients(mode: KernelMode): Promise<{ values: Float32Array[]; kernels: string[] }> {
    const profile = await tf.profile(() =>
      withKernelMode(mode, () => {
        const { value, grads } = tf.tidy(() =>
          tf.variableGrads(() => {
            const { ids: x, attentionMask } = inputs();
            const { hidden } = model.forward(x, { attentionMask, adapter, training: true, dropoutSeed: 3 });
            return summedCrossEntropy(model, hidden, targets);
          }, loraVariables(adapter)),
        );
        return [value, ...loraVariables(adapter).map((v) => grads[v.name]!)];
      }),
    );
    const out = profile.result as tf.Tensor[];
    const values = await Promise.all(out.map(async (t) => (await t.data()) as Float32Array));
    tf.dispose(out);
    return { values, kernels: profile.kernelNames };
  }

  it('logits of every position, padding rows included, within 1e-4', async () => {
    const stock = await logits('stock');
    const fused = await logits('fused');
    for (const k of [GEGLU, ATTENTION]) {
      expect(fused.kernels).toContain(k);
      expect(stock.kernels).not.toContain(k);
    }
    expect(maxRelativeError(stock.values, fused.values)).toBeLessThan(1e-4);
  });

  it('loss and every LoRA gradient of a training step (dropout 0.1) within 1e-4', async () => {
    const stock = await gradients('stock');
    const fused = await gradients('fused');
    for (const k of [GEGLU_GRAD, ATTENTION_STATS, ATTENTION_GRAD_Q, ATTENTION_GRAD_KV, LM_HEAD_CE]) expect(fused.kernels).toContain(k);
    expect(stock.kernels).not.toContain(GEGLU_GRAD);
    expect(stock.values).toHaveLength(1 + loraVariables(adapter).length);
    stock.values.forEach((g, i) => {
      expect(g.some((x) => x !== 0), `tensor ${i} is not all zero`).toBe(true);
      expect(maxRelativeError(g, fused.values[i]!), i === 0 ? 'loss' : `gradient ${loraVariables(adapter)[i - 1]!.name}`).toBeLessThan(1e-4);
    });
  });
});
