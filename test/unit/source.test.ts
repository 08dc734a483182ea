// loadModelFromFolder (Node) and loadModelFromFiles (File objects, as dropped in a browser),
// on the real stories260K files; broken folders are built in a temp dir from copies.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelSourceError } from '../../src/engine/model/source/source-errors';
import { loadModelFromFiles } from '../../src/engine/model/source/source-files';
import { loadModelFromFolder } from '../../src/engine/model/source/source-folder';
import type { ModelFiles } from '../../src/engine/model/source/source-types';
import { STORIES_DIR } from '../helpers/paths';

const FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
const ONCE_UPON_A_TIME = [1, 403, 407, 261, 378];
const NEEDS = 'a model needs config.json, tokenizer.json, tokenizer_config.json and model.safetensors';

let scratch: string;
let disk: Record<string, Buffer>;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'weblora-source-'));
  disk = Object.fromEntries(await Promise.all(FILES.map(async (f) => [f, await readFile(join(STORIES_DIR, f))])));
});

afterAll(() => rm(scratch, { recursive: true, force: true }));

/** A copy of stories260K in a temp folder, minus `drop`, with `extra` files written in. */
async function folderWith(name: string, drop: string[], extra: Record<string, string> = {}): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(dir);
  for (const f of FILES.filter((f) => !drop.includes(f))) await copyFile(join(STORIES_DIR, f), join(dir, f));
  for (const [f, text] of Object.entries(extra)) await writeFile(join(dir, f), text);
  return dir;
}

function file(name: string, relativePath?: string): File {
  const f = new File([new Uint8Array(disk[name]!)], name);
  // Set by browsers for files from a dropped or chosen folder; Node's File has no such field.
  if (relativePath) Object.defineProperty(f, 'webkitRelativePath', { value: relativePath });
  return f;
}

async function expectStories(m: ModelFiles): Promise<void> {
  expect(m.config).toEqual(JSON.parse(disk['config.json']!.toString()));
  expect(m.config.model_type).toBe('llama');
  expect(m.generationConfig).toEqual(JSON.parse(disk['generation_config.json']!.toString()));
  expect(m.tokenizer.encode('Once upon a time')).toEqual(ONCE_UPON_A_TIME);
  expect(m.tokenizer.decode(ONCE_UPON_A_TIME, { skipSpecialTokens: true })).toBe('Once upon a time');
  expect(m.tokenizer.vocabSize).toBe(512);
  expect(m.tokenizer.chatTemplate).toBeNull();
  expect(m.weights.size).toBe(disk['model.safetensors']!.length);
  expect(Buffer.from(await m.weights.read(0, m.weights.size)).equals(disk['model.safetensors']!)).toBe(true);
  // A slice from the middle, as the safetensors reader will ask for.
  expect(Buffer.from(await m.weights.read(1000, 64)).equals(disk['model.safetensors']!.subarray(1000, 1064))).toBe(true);
}

describe('loadModelFromFolder', () => {
  it('loads stories260K from its folder', async () => {
    const m = await loadModelFromFolder(STORIES_DIR);
    try {
      expect(m.name).toBe('stories260K');
      await expectStories(m);
    } finally {
      await m.weights.close();
    }
  });

  it('names every missing file and what a model needs', async () => {
    const dir = await folderWith('incomplete', ['tokenizer.json', 'model.safetensors']);
    const err = await loadModelFromFolder(dir).catch((e) => e);
    expect(err).toBeInstanceOf(ModelSourceError);
    expect(err.message).toBe(`Missing "tokenizer.json", "model.safetensors" in ${dir}: ${NEEDS} (generation_config.json is optional)`);
    expect(err.missing).toEqual(['tokenizer.json', 'model.safetensors']);
  });

  it('loads without generation_config.json', async () => {
    const m = await loadModelFromFolder(await folderWith('no-generation', ['generation_config.json']));
    expect(m.generationConfig).toBeNull();
    await m.weights.close();
  });

  it('refuses a sharded checkpoint, naming the index file', async () => {
    const dir = await folderWith('sharded', ['model.safetensors'], { 'model.safetensors.index.json': '{"weight_map":{}}' });
    await expect(loadModelFromFolder(dir)).rejects.toThrow(/sharded checkpoint \(model\.safetensors\.index\.json.*not supported yet/);
  });

  it('names a file that is not JSON', async () => {
    const dir = await folderWith('bad-json', ['config.json'], { 'config.json': '{"model_type": ' });
    await expect(loadModelFromFolder(dir)).rejects.toThrow(/config\.json is not valid JSON/);
  });

  it('says so when the path is not a folder', async () => {
    await expect(loadModelFromFolder(join(scratch, 'nowhere'))).rejects.toThrow(/is not a folder/);
  });

  it('keeps the chat template from tokenizer_config.json', async () => {
    const config = JSON.parse(disk['tokenizer_config.json']!.toString());
    config.chat_template = '{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}';
    const dir = await folderWith('chat', ['tokenizer_config.json'], { 'tokenizer_config.json': JSON.stringify(config) });
    const m = await loadModelFromFolder(dir);
    expect(m.tokenizer.chatTemplate).toBe(config.chat_template);
    expect(m.tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true })).toBe('<user>Hi\n<assistant>');
    await m.weights.close();
  });
});

describe('loadModelFromFiles', () => {
  it('loads stories260K from File objects', async () => {
    const m = await loadModelFromFiles(FILES.map((f) => file(f)));
    expect(m.name).toBe('llama (5 layers × 64)'); // loose files: named from the config
    await expectStories(m);
  });

  it('takes the folder name from a dropped folder, and the top-level copy of a name', async () => {
    const files = FILES.map((f) => file(f, `stories260K/${f}`));
    // A nested file with a top-level name must not win over the real one.
    files.unshift(new File(['{"model_type": "decoy"}'], 'config.json'));
    Object.defineProperty(files[0], 'webkitRelativePath', { value: 'stories260K/original/config.json' });
    const m = await loadModelFromFiles(files);
    expect(m.name).toBe('stories260K');
    await expectStories(m);
  });

  it('names the missing files', async () => {
    const err = await loadModelFromFiles(FILES.filter((f) => f !== 'tokenizer_config.json').map((f) => file(f))).catch((e) => e);
    expect(err).toBeInstanceOf(ModelSourceError);
    expect(err.message).toBe(`Missing "tokenizer_config.json" in the chosen files: ${NEEDS} (generation_config.json is optional)`);
    expect(err.missing).toEqual(['tokenizer_config.json']);
  });
});
