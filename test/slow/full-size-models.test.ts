// The decoder at the sizes users actually load: random weights with the published configs of
// SmolLM2-135M and Qwen2.5-0.5B (bench/model-configs.json), a padded [2, 64] forward on the cpu
// backend to finite logits, and Qwen's q/k/v biases each reaching the output. Minutes on cpu,
// hence the slow lane; the same decoder's numerics on tiny configs are in test/unit/model-configs.test.ts.
import { float32Weight } from '../../kernels/half';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { parameterCount, parseModelConfig } from '../../src/engine/model/config';
import { LlamaModel } from '../../src/engine/model/llama';
import { disposeWeights, type WeightMap } from '../../src/engine/model/weights';
import { QWEN2_5_0_5B, randomWeights, SMOLLM2_135M, type HubConfig } from '../helpers/random-model';
import { maxRelativeError } from '../helpers/numerics';
import { allFinite, engineLogits, randomIds } from '../helpers/model-forward';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const parse = (raw: HubConfig) => parseModelConfig({ ...raw });

// Full-size forwards on the cpu backend: [2, 64] with the second row right-padded, as a training
// batch is. Random weights at std 0.02 keep activations in the range real checkpoints have.
describe.each([
  // Qwen's lm_head is a 151936 × 896 matmul per position: logits of the last 4 positions cover
  // it at a fraction of the time, while the decoder still runs over all 2 × 64 tokens.
  { name: 'SmolLM2-135M', raw: SMOLLM2_135M, logitPositions: 64 },
  { name: 'Qwen2.5-0.5B', raw: QWEN2_5_0_5B, logitPositions: 4 },
])('$name with random weights on cpu', ({ name, raw, logitPositions }) => {
  const config = parse(raw);
  let baseline = 0;
  let weights: WeightMap;

  beforeAll(() => {
    baseline = tf.memory().numTensors;
    const t0 = performance.now();
    weights = randomWeights(config, 1);
    console.log(`${name}: ${parameterCount(config)} random parameters in ${(performance.now() - t0).toFixed(0)} ms`);
  });

  afterAll(() => {
    disposeWeights(weights);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('runs a padded [2, 64] forward to finite logits', async () => {
    const model = new LlamaModel(config, weights);
    const ids = [randomIds(64, config.vocabSize, 11), randomIds(64, config.vocabSize, 12)];
    const mask = [new Array(64).fill(1), [...new Array(40).fill(1), ...new Array(24).fill(0)]];
    const t0 = performance.now();
    const { logits, shape, hiddenFinite } = await engineLogits(model, ids, mask, logitPositions);
    console.log(`${name}: [2, 64] forward + logits of ${logitPositions} positions in ${(performance.now() - t0).toFixed(0)} ms`);
    model.dispose();
    expect(shape).toEqual([2, logitPositions, config.vocabSize]);
    expect(hiddenFinite).toBe(true);
    expect(allFinite(logits)).toBe(true);
    // Not collapsed to a constant: the weights reached the output.
    expect(Math.max(...logits.subarray(0, 1000)) - Math.min(...logits.subarray(0, 1000))).toBeGreaterThan(0.1);
  });

  if (config.attentionBias) {
    // A one-layer view of the same weights: each bias is read in layer 0, and 24 layers more would
    // only add time. q and k biases only matter through the softmax, hence several tokens.
    it.each(['q_proj', 'k_proj', 'v_proj'])('adds the %s bias', async (proj) => {
      const name = `model.layers.0.self_attn.${proj}.bias`;
      const view = { ...config, numLayers: 1 };
      const ids = [randomIds(6, config.vocabSize, 13)];
      const mask = [new Array(6).fill(1)];
      const base = new LlamaModel(view, weights);
      const before = await engineLogits(base, ids, mask);
      base.dispose();
      const bumped = tf.tidy(() => float32Weight(weights.get(name)!).add(tf.randomNormal(weights.get(name)!.shape, 0, 1, 'float32', 5)));
      const changed = new LlamaModel(view, new Map(weights).set(name, bumped));
      const after = await engineLogits(changed, ids, mask);
      changed.dispose();
      bumped.dispose();
      expect(maxRelativeError(before.logits, after.logits)).toBeGreaterThan(1e-3);
    });
  }
});
