import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf';
import { Session } from '../../src/engine/session';
import { loadModelFromFolder } from '../../src/engine/model/source/source-folder';
import { TARGET_PRESETS } from '../../src/engine/lora/lora';
import { STORIES_DIR } from '../helpers/paths';
import { maxRelativeError } from '../helpers/backend-suite';

describe('Session on stories260K (cpu)', () => {
  let s: Session;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    s = await Session.open(await loadModelFromFolder(STORIES_DIR));
  });
  afterAll(() => s?.dispose());

  it('summarises the model', () => {
    expect(s.summary()).toMatchObject({ family: 'llama', parameters: 260_032, layers: 5, vocabSize: 512, heads: 8, kvHeads: 4, hasChatTemplate: false });
  });

  it('exports a merged model folder that loads and reproduces the tuned logits', async () => {
    const adapter = s.newAdapter({ r: 4, alpha: 8, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS.attention] }, 3);
    for (const l of adapter.layers.values()) l.b.assign(tf.randomNormal(l.b.shape, 0, 0.1, 'float32', 5));
    const ids = s.tokenizer.encode('Once upon a time there was');
    const logits = (sess: Session, which: 'base' | 'tuned') =>
      tf.tidy(() => {
        const { model } = sess.loaded;
        const { hidden } = model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), { adapter: which === 'tuned' ? sess.adapter : null });
        return model.logits(hidden).dataSync() as Float32Array;
      });
    const tuned = logits(s, 'tuned');
    expect(maxRelativeError(logits(s, 'base'), tuned)).toBeGreaterThan(1e-3);

    const dir = await mkdtemp(join(tmpdir(), 'weblora-merged-'));
    for (const [name, content] of Object.entries(await s.exportMergedModel())) await writeFile(join(dir, name), content);
    const merged = await Session.open(await loadModelFromFolder(dir));
    expect(merged.tokenizer.encode('Once upon a time there was')).toEqual(ids);
    expect(maxRelativeError(tuned, logits(merged, 'base'))).toBeLessThan(1e-5);
    merged.dispose();
  });
});
