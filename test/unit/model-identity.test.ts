// A model is identified by its content: the same stories260K files loaded as a folder, as loose
// files and as a dropped folder are one model; changed weights (even one value) or another
// config are not. Loose files are named from their config, and an adapter exported from them
// says what its base model is only when something names it.
import { mkdir, mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelFromFiles } from '../../src/engine/model/source/source-files';
import { loadModelFromFolder } from '../../src/engine/model/source/source-folder';
import { modelFingerprint, nameFromConfig } from '../../src/engine/model/fingerprint';
import type { ModelFiles } from '../../src/engine/model/source/source-types';
import { STORIES_DIR } from '../helpers/paths';

const FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
let scratch: string;

async function fingerprintOf(files: ModelFiles): Promise<string> {
  try {
    return await modelFingerprint(files.config, files.weights);
  } finally {
    await files.weights.close();
  }
}

async function asFiles(dir: string, folder?: string): Promise<File[]> {
  return Promise.all(
    FILES.map(async (name) => {
      const f = new File([new Uint8Array(await readFile(join(dir, name)))], name);
      if (folder) Object.defineProperty(f, 'webkitRelativePath', { value: `${folder}/${name}` });
      return f;
    }),
  );
}

async function copyWith(name: string, change: (files: Record<string, Buffer>) => void): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(dir);
  const files = Object.fromEntries(await Promise.all(FILES.map(async (f) => [f, await readFile(join(STORIES_DIR, f))] as const)));
  change(files);
  for (const [f, bytes] of Object.entries(files)) await writeFile(join(dir, f), bytes);
  return dir;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'weblora-identity-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('model identity', () => {
  it('the same weights as a folder, as loose files and as a dropped folder are the same model', async () => {
    const folder = await fingerprintOf(await loadModelFromFolder(STORIES_DIR));
    const loose = await fingerprintOf(await loadModelFromFiles(await asFiles(STORIES_DIR)));
    const dropped = await fingerprintOf(await loadModelFromFiles(await asFiles(STORIES_DIR, 'my-copy')));
    // A copy under another folder name, its config rewritten with other key order and tooling fields.
    const renamed = await copyWith('renamed', (f) => {
      const c = JSON.parse(f['config.json']!.toString('utf8'));
      const reordered = Object.fromEntries(Object.entries({ ...c, transformers_version: '9.9.9', _name_or_path: '/somewhere/else' }).reverse());
      f['config.json'] = Buffer.from(JSON.stringify(reordered));
    });
    const elsewhere = await fingerprintOf(await loadModelFromFolder(renamed));
    expect(folder).toMatch(/^[0-9a-f]{64}$/);
    expect(loose).toBe(folder);
    expect(dropped).toBe(folder);
    expect(elsewhere).toBe(folder);
  });

  it('other weights (one changed value) or another config are another model', async () => {
    const base = await fingerprintOf(await loadModelFromFolder(STORIES_DIR));
    const tuned = await copyWith('tuned', (f) => {
      const w = Buffer.from(f['model.safetensors']!);
      const headerEnd = 8 + Number(w.readBigUInt64LE(0));
      // The first value of the data: a fine-tune changes every tensor, this changes one float.
      w.writeFloatLE(w.readFloatLE(headerEnd) + 0.5, headerEnd);
      f['model.safetensors'] = w;
    });
    const wider = await copyWith('other-config', (f) => {
      const c = JSON.parse(f['config.json']!.toString('utf8'));
      f['config.json'] = Buffer.from(JSON.stringify({ ...c, rope_theta: 500000 }));
    });
    expect(await fingerprintOf(await loadModelFromFolder(tuned))).not.toBe(base);
    expect(await fingerprintOf(await loadModelFromFolder(wider))).not.toBe(base);
  });

  it('loose files are named from the config, and only a real name becomes base_model_name_or_path', async () => {
    const loose = await loadModelFromFiles(await asFiles(STORIES_DIR));
    await loose.weights.close();
    expect(loose.name).toBe('llama (5 layers × 64)');
    expect(loose.baseModelId).toBeNull();
    const folder = await loadModelFromFolder(STORIES_DIR);
    await folder.weights.close();
    expect(folder.name).toBe('stories260K');
    expect(folder.baseModelId).toBeUndefined();
    expect(nameFromConfig({ _name_or_path: 'HuggingFaceTB/SmolLM2-135M' })).toBe('HuggingFaceTB/SmolLM2-135M');
    const named = join(scratch, 'named');
    await mkdir(named);
    for (const f of FILES) await copyFile(join(STORIES_DIR, f), join(named, f));
    const c = JSON.parse(await readFile(join(named, 'config.json'), 'utf8'));
    await writeFile(join(named, 'config.json'), JSON.stringify({ ...c, _name_or_path: 'karpathy/tinyllamas' }));
    const files = await loadModelFromFiles(await asFiles(named));
    await files.weights.close();
    expect(files.name).toBe('karpathy/tinyllamas');
    expect(files.baseModelId).toBe('karpathy/tinyllamas');
  });
});
