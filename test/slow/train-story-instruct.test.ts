// Real LoRA training of stories260K on story-instruct, on the wasm backend: 60 steps lower the
// validation loss far below the base model's, memory stays flat, and the tuned model follows
// held-out instructions. Two minutes on two cores, hence the slow lane; the short training
// checks (step loss, resume, pause) are in test/unit/train.test.ts.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { initBackend } from '../../src/engine/backend';
import type { LoadedModel } from '../../src/engine/model/load';
import { disposeAdapter, type LoraAdapter } from '../../src/engine/lora/lora';
import type { PreparedDataset } from '../../src/engine/data';
import { loadStories } from '../helpers/stories';
import { storyInstruct } from '../helpers/story-data';
import { trainAndFollowHeldOut } from '../helpers/story-instruct-run';

describe('LoRA training of stories260K on story-instruct (wasm)', () => {
  let m: LoadedModel;
  let data: PreparedDataset;
  let adapter: LoraAdapter | undefined;

  beforeAll(async () => {
    await initBackend({ prefer: 'wasm' });
    m = await loadStories();
    data = await storyInstruct(m.tokenizer);
  });
  afterAll(() => adapter && disposeAdapter(adapter));

  it('lowers validation loss far below the base model, with flat memory, and the tuned model follows held-out instructions', async () => {
    adapter = await trainAndFollowHeldOut(m, data, (a) => (adapter = a), 'wasm fp32');
  });
});
