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

  it('compareOn: the answers of several examples, base and tuned, from one batched generation equal generate() per example', async () => {
    const adapter = s.newAdapter({ r: 4, alpha: 8, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] }, 5);
    for (const l of adapter.layers.values()) l.b.assign(tf.randomNormal(l.b.shape, 0, 0.3, 'float32', 9));
    const example = (prompt: string, answer: string) => {
      const p = s.tokenizer.encode(prompt);
      const a = s.tokenizer.encode(answer).slice(1);
      return { inputIds: [...p, ...a], lossMask: [...p.map(() => 0), ...a.map(() => 1)] };
    };
    const examples = [example('Once upon a time', ' there was a dog.'), example('The little cat sat on the', ' mat.'), example('Tom and Sue', ' ran home.')];
    const opts = { maxNewTokens: 12, temperature: 0.8, topP: 0.9, seed: 4 };
    const got = await s.compareOn(examples, 64, opts);
    expect(got).toHaveLength(3);
    for (const [i, ex] of examples.entries()) {
      const prompt = ex.inputIds.slice(0, ex.lossMask.indexOf(1));
      expect(got[i]!.base).toBe((await s.generate(prompt, 'base', opts)).text);
      expect(got[i]!.tuned).toBe((await s.generate(prompt, 'tuned', opts)).text);
      expect(got[i]!.tunedLoss).toBeCloseTo(await s.evalLoss([ex], 'tuned', 1, 64), 6);
    }
    expect(got.some((c) => c.base !== c.tuned)).toBe(true);
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
