// LoRA on a tiny Gemma 3 (sliding and full layers, window shorter than the sequence, padding):
// gradients equal central finite differences; the PEFT adapter carries the keys PEFT writes
// for Gemma3ForCausalLM and round-trips bit-exactly; merging writes the checkpoint's own norm
// weights (w, not the 1 + w the model derives); tensors are released.
import { float32Weight } from '../../kernels/half';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { parseModelConfig } from '../../src/engine/model/config';
import { Gemma3Model } from '../../src/engine/model/gemma3';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { bytesSource } from '../../src/engine/model/byte-source';
import { disposeWeights } from '../../src/engine/model/weights';
import { createLoraAdapter, disposeAdapter, loraVariables, TARGET_PRESETS, type LoraAdapter } from '../../src/engine/lora/lora';
import { exportPeft, importPeft } from '../../src/engine/lora/peft';
import { mergeAdapter, mergedSafetensors, unmergeAdapter } from '../../src/engine/lora/merge';
import { summedCrossEntropy } from '../../src/engine/train/loss';
import { mulberry32 } from '../../src/engine/rng';
import { assignData } from '../../src/engine/variables';
import { randomWeights, TINY_GEMMA3 } from '../helpers/random-model';
import { maxRelativeError } from '../helpers/numerics';
import { directionalDerivative } from '../helpers/directional-derivative';

const config = parseModelConfig({ ...TINY_GEMMA3 });
const B = 2;
const T = 7; // window 3: every sliding layer drops keys
const random = mulberry32(11);
const ids = Array.from({ length: B * T }, () => Math.floor(random() * config.vocabSize));
const mask = [...new Array(T).fill(1), 0, 0, ...new Array(T - 2).fill(1)];
// Next-token targets on real positions; -1 on the last position and where the next is padding.
const targets = Int32Array.from(ids.map((_, i) => (i % T === T - 1 || mask[i + 1] === 0 || mask[i] === 0 ? -1 : ids[i + 1])));
const bits = (x: ArrayLike<number>) => new Uint32Array(Float32Array.from(x).buffer);

describe('LoRA on a tiny Gemma 3, cpu', () => {
  let model: Gemma3Model;
  let adapter: LoraAdapter;
  let baseline: number;
  const loss = () =>
    tf.tidy(() => {
      const { hidden } = model.forward(tf.tensor2d(ids, [B, T], 'int32'), { attentionMask: tf.tensor2d(mask, [B, T], 'int32'), adapter });
      return summedCrossEntropy(model, hidden, targets).div(targets.filter((t) => t >= 0).length) as tf.Scalar;
    });
  const logits = (a: LoraAdapter | null) =>
    tf.tidy(() => {
      const { hidden } = model.forward(tf.tensor2d(ids, [B, T], 'int32'), { attentionMask: tf.tensor2d(mask, [B, T], 'int32'), adapter: a });
      return model.logits(hidden).dataSync() as Float32Array;
    });
  const randomizeB = (seed: number) => {
    const r = mulberry32(seed);
    for (const l of adapter.layers.values()) assignData(l.b, Float32Array.from({ length: l.b.size }, () => (r() * 2 - 1) * 0.3));
  };

  beforeAll(async () => {
    await tf.setBackend('cpu');
    baseline = tf.memory().numTensors;
    model = new Gemma3Model(config, randomWeights(config, 3, { std: 0.3, normJitter: 0.3 }));
    adapter = createLoraAdapter(config, { r: 3, alpha: 6, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] }, mulberry32(5));
  });
  afterAll(() => {
    disposeAdapter(adapter);
    model.dispose();
    disposeWeights(model.weights);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('a fresh adapter (B = 0) leaves the logits exactly unchanged', () => {
    expect(logits(adapter)).toEqual(logits(null));
  });

  it('gradients of A and B equal central finite differences, on every module of both layer types', () => {
    randomizeB(9);
    const vars = loraVariables(adapter);
    const { value, grads } = tf.variableGrads(loss, vars);
    value.dispose();
    // Float32 loss: with h = 1e-2 the quotient's rounding error is ~1e-5 and its truncation
    // error about the same; we require 2% or 2e-4 absolute (as for the Llama family).
    const h = 1e-2;
    const pick = mulberry32(21);
    const checkedModules = new Set<string>();
    for (const v of vars.filter((_, i) => i % 3 === 0)) {
      const g = grads[v.name].dataSync();
      const data = v.dataSync().slice() as Float32Array;
      for (let k = 0; k < 2; k++) {
        const j = Math.floor(pick() * data.length);
        const probe = (delta: number) => {
          const d = data.slice();
          d[j] += delta;
          assignData(v, d);
          const l = loss();
          const x = l.dataSync()[0];
          l.dispose();
          return x;
        };
        const fd = (probe(h) - probe(-h)) / (2 * h);
        assignData(v, data);
        expect(Math.abs(fd - g[j]), `${v.name}[${j}] analytic ${g[j]} vs fd ${fd}`).toBeLessThan(2e-4 + 0.02 * Math.abs(g[j]));
      }
      checkedModules.add(v.name.replace(/^lora\d+\/model\.layers\.\d+\./, '').replace(/\.lora_[AB]$/, ''));
    }
    expect(checkedModules.size).toBeGreaterThanOrEqual(6);
    const largest = Math.max(...vars.map((v) => Math.max(...grads[v.name].dataSync().map(Math.abs))));
    expect(largest).toBeGreaterThan(1e-3);
    tf.dispose(Object.values(grads));
  });

  it('the directional derivative along a random direction matches finite differences', () => {
    randomizeB(10);
    const { analytic, finiteDifference } = directionalDerivative(loss, loraVariables(adapter), 33);
    expect(Math.abs(finiteDifference - analytic) / Math.abs(analytic)).toBeLessThan(0.01);
  });

  it('PEFT export uses Gemma3ForCausalLM\'s keys and shapes; import is bit-exact; re-export byte-identical', async () => {
    randomizeB(13);
    const files = await exportPeft(adapter, 'google/gemma-3-270m');
    const view = new DataView(files.weights.buffer, files.weights.byteOffset);
    const header = JSON.parse(new TextDecoder().decode(files.weights.subarray(8, 8 + Number(view.getBigUint64(0, true)))));
    // q is heads·head_dim = 64 wide while hidden is 32; k and v are 2 KV heads of 16.
    expect(header['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'].shape).toEqual([3, 32]);
    expect(header['base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight'].shape).toEqual([64, 3]);
    expect(header['base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight'].shape).toEqual([32, 3]);
    expect(header['base_model.model.model.layers.2.self_attn.o_proj.lora_A.weight'].shape).toEqual([3, 64]);
    expect(header['base_model.model.model.layers.2.mlp.down_proj.lora_A.weight'].shape).toEqual([3, 48]);
    expect(Object.keys(header).filter((k) => k !== '__metadata__')).toHaveLength(3 * 7 * 2);
    expect(JSON.parse(files.config)).toMatchObject({ base_model_name_or_path: 'google/gemma-3-270m', target_modules: [...TARGET_PRESETS['all-linear']].sort() });

    const back = await importPeft(files, config);
    expect([...back.layers.keys()]).toEqual([...adapter.layers.keys()]);
    for (const [path, l] of adapter.layers) {
      const m = back.layers.get(path)!;
      expect(bits(m.a.dataSync())).toEqual(bits(l.a.dataSync()));
      expect(bits(m.b.dataSync())).toEqual(bits(l.b.dataSync()));
    }
    const again = await exportPeft(back, 'google/gemma-3-270m');
    expect(again.weights).toEqual(files.weights);
    disposeAdapter(back);
  });

  it('merged weights give the adapter\'s logits; the merged file holds the checkpoint\'s norm weights w', async () => {
    randomizeB(12);
    const base = logits(null);
    const tuned = logits(adapter);
    expect(maxRelativeError(base, tuned)).toBeGreaterThan(1e-3);
    mergeAdapter(model.weights, adapter);
    expect(maxRelativeError(tuned, logits(null))).toBeLessThan(1e-5);
    unmergeAdapter(model.weights, adapter);
    expect(maxRelativeError(base, logits(null))).toBeLessThan(1e-5);

    const file = await openSafetensors(bytesSource('model.safetensors', await mergedSafetensors(model.weights, config, adapter)));
    for (const name of ['model.layers.0.input_layernorm.weight', 'model.layers.1.post_feedforward_layernorm.weight', 'model.layers.2.self_attn.k_norm.weight', 'model.norm.weight']) {
      expect(bits(await file.readFloat32(name))).toEqual(bits(float32Weight(model.weights.get(name)!).dataSync()));
    }
    // The norms are jittered around 0 (HF's init for Gemma): writing 1 + w would be off by ~1.
    const w = await file.readFloat32('model.norm.weight');
    expect(Math.abs(w.reduce((s, x) => s + x, 0) / w.length)).toBeLessThan(0.3);
  });

  it('a training step\'s forward and gradients leave no tensor behind', () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      const { value, grads } = tf.variableGrads(loss, loraVariables(adapter));
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
