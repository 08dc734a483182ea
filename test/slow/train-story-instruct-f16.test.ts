// The story-instruct run of train-story-instruct.test.ts in precision f16-base on WebGPU, on
// Mesa's lavapipe (the CPU Vulkan with shader-f16; this file's process loads Dawn with its ICD):
// the same checks as fp32 — validation loss far below the base model's, flat memory, and the
// tuned model's greedy output on the held-out instructions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend';
import { installNodeWebGPU } from '../../src/engine/backend-node';
import type { LoadedModel } from '../../src/engine/model/load';
import { disposeAdapter, type LoraAdapter } from '../../src/engine/lora/lora';
import type { PreparedDataset } from '../../src/engine/data';
import { isHalf } from '../../kernels/half';
import { loadStories } from '../helpers/stories';
import { storyInstruct } from '../helpers/story-data';
import { trainAndFollowHeldOut } from '../helpers/story-instruct-run';

describe('LoRA training of stories260K on story-instruct in f16-base (WebGPU, lavapipe)', () => {
  let m: LoadedModel;
  let data: PreparedDataset;
  let adapter: LoraAdapter | undefined;

  beforeAll(async () => {
    await installNodeWebGPU({ lavapipe: true });
    const info = await initBackend({ prefer: 'webgpu', precision: 'f16-base' });
    expect([info.precision, info.frozenMatmul]).toEqual(['f16-base', 'simt-f16']);
    m = await loadStories();
    expect(isHalf(m.model.weights.get('model.layers.0.mlp.up_proj.weight'))).toBe(true);
    data = await storyInstruct(m.tokenizer);
  });
  afterAll(() => adapter && disposeAdapter(adapter));

  it('lowers validation loss far below the base model, with flat memory, and the tuned model follows held-out instructions', async () => {
    adapter = await trainAndFollowHeldOut(m, data, (a) => (adapter = a), 'webgpu f16-base (lavapipe)');
  });
});
