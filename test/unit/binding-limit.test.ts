// A weight larger than the GPU's largest storage binding is refused at load by name, instead of
// the dispatches that read it being dropped (Dawn only logs a validation error) and training
// going on with wrong numbers — as happened with Gemma 3's 640 MiB embedding on lavapipe (128 MiB).
import { describe, expect, it } from 'vitest';
import { checkBindingLimit, storageBindingLimit } from '../../src/engine/model/binding-limit';
import { expectedTensorShapes, parseModelConfig } from '../../src/engine/model/config';
import { initBackend } from '../../src/engine/backend';
import { GEMMA3_270M } from '../helpers/random-model';

describe('storage binding limit', () => {
  const shapes = expectedTensorShapes(parseModelConfig({ ...GEMMA3_270M }));

  it("Gemma 3 270M's embedding is refused by name on a 128 MiB adapter, with what to do", () => {
    expect(() => checkBindingLimit(shapes, 128 * 2 ** 20)).toThrow(
      /^model\.embed_tokens\.weight \[262144, 640\] is 640 MiB, more than the 128 MiB this GPU lets one shader read.*choose the WebAssembly \(wasm\) or cpu backend/,
    );
  });

  it('fits a 1 GiB adapter (SwiftShader, most GPUs), and no limit applies off WebGPU', async () => {
    expect(() => checkBindingLimit(shapes, 2 ** 30)).not.toThrow();
    await initBackend({ prefer: 'cpu' });
    expect(storageBindingLimit()).toBeNull();
    expect(() => checkBindingLimit(shapes)).not.toThrow();
  });
});
