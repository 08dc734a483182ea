import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { parseModelConfig } from '../../src/engine/model/config';
import { LlamaModel } from '../../src/engine/model/llama';
import { createLoraAdapter, disposeAdapter, loraVariables, TARGET_PRESETS, type LoraAdapter } from '../../src/engine/lora/lora';
import { AdapterError, exportPeft, importPeft } from '../../src/engine/lora/peft';
import { mergeAdapter, unmergeAdapter } from '../../src/engine/lora/merge';
import { summedCrossEntropy } from '../../src/engine/train/loss';
import { mulberry32 } from '../../src/engine/rng';
import { AdamW } from '../../src/engine/train/optimizer';
import { TINY_QWEN2, randomWeights } from '../helpers/random-model';
import { maxRelativeError } from '../helpers/backend-suite';
import { directionalDerivative } from '../helpers/directional-derivative';

const config = parseModelConfig({ ...TINY_QWEN2 });
const B = 2;
const T = 7;
const random = mulberry32(11);
const ids = Array.from({ length: B * T }, () => Math.floor(random() * config.vocabSize));
const mask = [...new Array(T).fill(1), ...new Array(T - 2).fill(1), 0, 0];
// Targets: next token where the mask says real, -1 on the last position and the padding.
const targets = Int32Array.from(ids.map((_, i) => (i % T === T - 1 || mask[i + 1] === 0 ? -1 : ids[i + 1])));

/** The raw float32 bit patterns (so -0 vs 0 or NaN payloads would count as different). */
const bits = (x: ArrayLike<number>) => new Uint32Array(Float32Array.from(x).buffer);

function withAdapterB(adapter: LoraAdapter, seed: number): void {
  const r = mulberry32(seed);
  for (const l of adapter.layers.values()) {
    l.b.assign(tf.tensor(Float32Array.from({ length: l.b.size }, () => (r() * 2 - 1) * 0.3), l.b.shape));
  }
}

describe('LoRA on a tiny random qwen2 (bias path), cpu', () => {
  let model: LlamaModel;
  let adapter: LoraAdapter;
  const loss = () =>
    tf.tidy(() => {
      const { hidden } = model.forward(tf.tensor2d(ids, [B, T], 'int32'), {
        attentionMask: tf.tensor2d(mask, [B, T], 'int32'),
        adapter,
      });
      const n = targets.filter((t) => t >= 0).length;
      return summedCrossEntropy(model, hidden, targets).div(n) as tf.Scalar;
    });
  const logits = (a: LoraAdapter | null) =>
    tf.tidy(() => {
      const { hidden } = model.forward(tf.tensor2d(ids, [B, T], 'int32'), { attentionMask: tf.tensor2d(mask, [B, T], 'int32'), adapter: a });
      return model.logits(hidden).dataSync() as Float32Array;
    });

  beforeAll(async () => {
    await tf.setBackend('cpu');
    // Larger weights than a real init so the loss surface is far from flat.
    model = new LlamaModel(config, randomWeights(config, 3, { std: 0.3, biasStd: 0.3, normJitter: 0.2 }));
    adapter = createLoraAdapter(config, { r: 3, alpha: 6, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] }, mulberry32(5));
  });
  afterAll(() => {
    disposeAdapter(adapter);
    for (const w of model.weights.values()) w.dispose();
    model.dispose();
  });

  it('a fresh adapter (B = 0) leaves the logits exactly unchanged', () => {
    expect(logits(adapter)).toEqual(logits(null));
  });

  it('A is PEFT kaiming-uniform within ±1/√in and B is zero', () => {
    const layer = adapter.layers.get('model.layers.0.mlp.down_proj')!;
    const a = layer.a.dataSync();
    const bound = 1 / Math.sqrt(config.intermediateSize);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(bound * 0.8);
    expect(layer.b.dataSync().every((x) => x === 0)).toBe(true);
  });

  it('gradients of A and B equal central finite differences', () => {
    withAdapterB(adapter, 9);
    const vars = loraVariables(adapter);
    const { value, grads } = tf.variableGrads(loss, vars);
    value.dispose();
    // Float32 loss: with h = 1e-2 the rounding error of the difference quotient is ~1e-5
    // and the truncation error O(h²·L‴) about the same; we require 2% or 2e-4 absolute.
    const h = 1e-2;
    const pick = mulberry32(21);
    let checked = 0;
    for (const v of vars.filter((_, i) => i % 5 === 0)) {
      const g = grads[v.name].dataSync();
      const data = v.dataSync().slice();
      for (let k = 0; k < 3; k++) {
        const j = Math.floor(pick() * data.length);
        const probe = (delta: number) => {
          const d = data.slice();
          d[j] += delta;
          v.assign(tf.tensor(d, v.shape));
          const l = loss();
          const x = l.dataSync()[0];
          l.dispose();
          return x;
        };
        const fd = (probe(h) - probe(-h)) / (2 * h);
        v.assign(tf.tensor(data, v.shape));
        expect(Math.abs(fd - g[j]), `${v.name}[${j}] analytic ${g[j]} vs fd ${fd}`).toBeLessThan(2e-4 + 0.02 * Math.abs(g[j]));
        checked++;
      }
    }
    // A's gradient is nonzero only because B is: make sure the check was not vacuous.
    const aGrad = grads[vars[0].name].dataSync();
    expect(Math.max(...aGrad.map(Math.abs))).toBeGreaterThan(1e-4);
    expect(checked).toBeGreaterThan(10);
    tf.dispose(Object.values(grads));
  });

  it('the directional derivative along a random direction matches finite differences', () => {
    withAdapterB(adapter, 10);
    const { analytic, finiteDifference } = directionalDerivative(loss, loraVariables(adapter), 33);
    expect(Math.abs(finiteDifference - analytic) / Math.abs(analytic)).toBeLessThan(0.01);
  });

  it('merged weights give the logits of the unmerged adapter; unmerge restores the base', () => {
    withAdapterB(adapter, 12);
    const base = logits(null);
    const withAdapter = logits(adapter);
    expect(maxRelativeError(base, withAdapter)).toBeGreaterThan(1e-3);
    mergeAdapter(model.weights, adapter);
    expect(maxRelativeError(withAdapter, logits(null))).toBeLessThan(1e-5);
    unmergeAdapter(model.weights, adapter);
    expect(maxRelativeError(base, logits(null))).toBeLessThan(1e-5);
  });

  it('PEFT export then import is bit-exact, and re-export is byte-identical', async () => {
    withAdapterB(adapter, 13);
    const files = await exportPeft(adapter, 'test/tiny-qwen2');
    const cfg = JSON.parse(files.config);
    expect(cfg).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 3, lora_alpha: 6, bias: 'none', use_rslora: false, fan_in_fan_out: false });
    const back = await importPeft(files, config);
    expect([...back.layers.keys()]).toEqual([...adapter.layers.keys()]);
    for (const [path, l] of adapter.layers) {
      const m = back.layers.get(path)!;
      expect(bits(m.a.dataSync())).toEqual(bits(l.a.dataSync()));
      expect(bits(m.b.dataSync())).toEqual(bits(l.b.dataSync()));
      expect(m.scaling).toBe(l.scaling);
    }
    const again = await exportPeft(back, 'test/tiny-qwen2');
    expect(again.weights).toEqual(files.weights);
    expect(again.config).toBe(files.config);
    disposeAdapter(back);
  });

  it('creating, importing and disposing adapters and optimizers leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const fresh = createLoraAdapter(config, { r: 2, alpha: 4, dropout: 0, useRslora: false, targetModules: ['q_proj', 'v_proj'] }, mulberry32(1));
    const opt = new AdamW(loraVariables(fresh));
    opt.setState(await opt.getState());
    const back = await importPeft(await exportPeft(fresh, 'x'), config);
    opt.dispose();
    disposeAdapter(fresh);
    disposeAdapter(back);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('PEFT tensor names and shapes follow PEFT: lora_A [r, in], lora_B [out, r]', async () => {
    const files = await exportPeft(adapter, 'x');
    const header = JSON.parse(new TextDecoder().decode(files.weights.subarray(8, 8 + Number(new DataView(files.weights.buffer, files.weights.byteOffset).getBigUint64(0, true)))));
    expect(header.__metadata__).toEqual({ format: 'pt' });
    expect(header['base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight'].shape).toEqual([3, 32]);
    expect(header['base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight'].shape).toEqual([16, 3]);
    expect(header['base_model.model.model.layers.0.mlp.down_proj.lora_A.weight'].shape).toEqual([3, 48]);
  });
});

describe('importing an adapter that does not fit', () => {
  const config2 = parseModelConfig({ ...TINY_QWEN2 });
  const make = (r: number, targets: string[], cfg = config2) =>
    exportPeft(createLoraAdapter(cfg, { r, alpha: 8, dropout: 0, useRslora: false, targetModules: targets }, mulberry32(1)), 'x');

  it('wrong rank in the weights names the tensor', async () => {
    const files = await make(4, ['q_proj', 'v_proj']);
    const lying = { ...files, config: files.config.replace('"r": 4', '"r": 8') };
    await expect(importPeft(lying, config2)).rejects.toThrow(/base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight.*\[4,32\].*\[8,32\]/);
  });

  it('missing keys name the tensor', async () => {
    const files = await make(4, ['q_proj']);
    const claimsMore = { ...files, config: files.config.replace('"q_proj"', '"q_proj", "v_proj"') };
    await expect(importPeft(claimsMore, config2)).rejects.toThrow(AdapterError);
    await expect(importPeft(claimsMore, config2)).rejects.toThrow(/v_proj\.lora_A\.weight" is missing/);
  });

  it('shapes for another model name the tensor', async () => {
    const other = parseModelConfig({ ...TINY_QWEN2, hidden_size: 64, intermediate_size: 96 });
    const files = await make(4, ['q_proj'], other);
    await expect(importPeft(files, config2)).rejects.toThrow(/q_proj\.lora_A\.weight" has shape \[4,64\].*\[4,32\]/);
  });

  it('a non-LoRA or malformed adapter_config.json is refused with the field', async () => {
    const files = await make(2, ['q_proj']);
    await expect(importPeft({ ...files, config: '{"peft_type":"IA3"}' }, config2)).rejects.toThrow(/peft_type/);
    await expect(importPeft({ ...files, config: '{' }, config2)).rejects.toThrow(/adapter_config\.json: not valid JSON/);
    await expect(importPeft({ ...files, config: '{"peft_type":"LORA","r":2}' }, config2)).rejects.toThrow(/"target_modules" is missing/);
  });
});
