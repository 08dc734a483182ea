// A checkpoint that does not fit its config.json must fail at load time with a message that names
// the tensor (and the shapes) at fault, not deep inside a forward pass. Everything goes through
// loadModel, the path the app and the CLI take, with a random tiny model held in memory.
import { float32Weight } from '../../kernels/half';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { parseModelConfig } from '../../src/engine/model/config';
import { bytesSource } from '../../src/engine/model/byte-source';
import { loadModel, type LoadedModel } from '../../src/engine/model/load';
import { SafetensorsError, writeSafetensors } from '../../src/engine/model/safetensors';
import { disposeWeights, WeightsError } from '../../src/engine/model/weights';
import { placeholderTokenizer, randomModelParts, randomTensors, randomWeights, TINY_QWEN2 } from '../helpers/random-model';

const RAW = TINY_QWEN2; // tied, with q/k/v biases: the richest expected-tensor list
const config = parseModelConfig({ ...RAW });
const FILE = 'model.safetensors';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Tensors = ReturnType<typeof randomTensors>;

/** loadModel over an edited copy of the random checkpoint. */
function load(edit: (tensors: Tensors) => Tensors): Promise<LoadedModel> {
  const bytes = writeSafetensors(edit(randomTensors(config, 1)));
  return loadModel({
    name: 'tiny',
    config: { ...RAW },
    tokenizer: placeholderTokenizer(config.vocabSize),
    weights: bytesSource(FILE, bytes),
  });
}

function release(m: LoadedModel): void {
  m.model.dispose();
  disposeWeights(m.model.weights);
}

async function logitsOf(m: LoadedModel): Promise<Float32Array> {
  const out = tf.tidy(() => m.model.logits(m.model.forward(tf.tensor2d([[3, 1, 4]], [1, 3], 'int32')).hidden));
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

describe('loadModel with a checkpoint that does not match config.json', () => {
  it('loads the unedited random checkpoint to exactly randomWeights (control)', async () => {
    const baseline = tf.memory().numTensors;
    const m = await loadModel(randomModelParts(RAW, 1));
    const expected = randomWeights(config, 1);
    expect([...m.model.weights.keys()]).toEqual([...expected.keys()]);
    for (const [name, t] of expected) expect(float32Weight(m.model.weights.get(name)!).dataSync()).toEqual(float32Weight(t).dataSync());
    disposeWeights(expected);
    release(m);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('names a missing tensor', async () => {
    const gone = 'model.layers.1.self_attn.k_proj.bias';
    const error = await load((ts) => ts.filter((t) => t.name !== gone)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeightsError);
    expect((error as Error).message).toContain(FILE);
    expect((error as Error).message).toMatch(new RegExp(`missing tensors: ${gone.replaceAll('.', '\\.')}`));
  });

  it('names a tensor of the wrong shape with both shapes', async () => {
    const name = 'model.layers.0.mlp.up_proj.weight'; // [48, 32] stored transposed
    const error = await load((ts) =>
      ts.map((t) => (t.name === name ? { ...t, shape: [t.shape[1]!, t.shape[0]!] } : t)),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeightsError);
    expect((error as Error).message).toContain(`${name} has shape [32,48] but the config needs [48,32]`);
  });

  it('names an unexpected extra tensor', async () => {
    const extra = 'model.layers.0.self_attn.o_proj.bias'; // llama-with-bias, but qwen2 has none
    const error = await load((ts) => [...ts, { name: extra, shape: [32], data: new Float32Array(32) }]).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WeightsError);
    expect((error as Error).message).toMatch(/tensors this qwen2 config does not use: .*o_proj\.bias/);
  });

  it('accepts lm_head.weight in a tied checkpoint and keeps using the embeddings', async () => {
    const baseline = tf.memory().numTensors;
    const plain = await load((ts) => ts);
    // A head unlike the embeddings: had it been used, the logits would differ.
    const head = { name: 'lm_head.weight', shape: [64, 32], data: new Float32Array(64 * 32).fill(0.5) };
    const withHead = await load((ts) => [...ts, head]);
    expect(withHead.model.weights.has('lm_head.weight')).toBe(false);
    expect(await logitsOf(withHead)).toEqual(await logitsOf(plain));
    release(plain);
    release(withHead);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it.each([
    ['truncated', (b: Uint8Array) => b.subarray(0, b.length - 100)],
    ['header overwritten', (b: Uint8Array) => b.slice().fill(0x7b, 8, 40)],
  ])('reports a corrupt file (%s) with the file name', async (_, corrupt) => {
    const error = await loadModel({
      ...randomModelParts(RAW, 1),
      weights: bytesSource(FILE, corrupt(writeSafetensors(randomTensors(config, 1)))),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as SafetensorsError).file).toBe(FILE);
    expect((error as Error).message.startsWith(`${FILE}: `)).toBe(true);
  });
});
