import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { generate } from '../../src/engine/generate/generate';
import type { LoadedModel } from '../../src/engine/model/load';
import { loadStories, referenceGreedy, type ReferenceGreedy } from '../helpers/stories';

describe('stories260K golden greedy output (cpu)', () => {
  let m: LoadedModel;
  let ref: ReferenceGreedy;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    m = await loadStories();
    ref = await referenceGreedy();
  });
  afterAll(() => m?.model.dispose());

  it('tokenizes the prompt like the reference', () => {
    expect(m.tokenizer.encode(ref.prompt)).toEqual(ref.prompt_ids);
  });

  it('continues "Once upon a time" token for token', async () => {
    const maxNewTokens = ref.greedy_ids.length - ref.prompt_ids.length;
    const out = await generate(m.model, m.tokenizer, ref.prompt_ids, { maxNewTokens });
    expect([...ref.prompt_ids, ...out.ids]).toEqual(ref.greedy_ids);
  });
});
