// --resume checks the model by its weights, not only its config: a checkpoint made on stories260K
// is refused with a copy whose weights differ (same config and size, as a fine-tune and its base
// would be), naming both SHA-256s; the same weights in another folder resume. The hash is cached
// by file size and mtime; a checkpoint from before weights were hashed still resumes, with a note.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/engine/model/byte-source';
import { sha256OfSource } from '../../src/engine/model/weights-sha256';
import { modelWeightsSha256 } from '../../src/cli/shared/weights-hash';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { STORIES_DIR } from '../helpers/paths';
import { loadModelFromFiles } from '../../src/engine/model/source/source-files';
import { webStore } from '../../src/engine/model/source/hub-store-web';
import { hubLocation, remoteUrl } from '../../src/engine/model/source/hub-location';
import { weightsSha256 as appWeightsSha256 } from '../../src/worker/weights-hash';
import { STORY_INSTRUCT } from '../helpers/story-data';
import { runCliInProcess, storiesCopy } from '../helpers/cli-run';
import { resumeDifferences } from '../../src/cli/train/identity';

const SLOW = 5 * 60_000;
let scratch: string;
let env: Record<string, string>;
const fileSha = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'weblora-resume-id-'));
  env = { WEBLORA_CACHE_DIR: join(scratch, 'cache') };
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('the model weights hash', () => {
  it('is the SHA-256 of the whole file, streamed in chunks', async () => {
    const bytes = new Uint8Array(20 * 1024 * 1024 + 7).map((_, i) => (i * 31) % 251);
    expect(await sha256OfSource(bytesSource('x', bytes))).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(await modelWeightsSha256(STORIES_DIR, env)).toBe(await fileSha(join(STORIES_DIR, 'model.safetensors')));
  });

  it('is cached by path, size and mtime, and recomputed when the file changes', async () => {
    const dir = await storiesCopy(join(scratch, 'cached'), () => {});
    let hashed = 0;
    const first = await modelWeightsSha256(dir, env, () => hashed++);
    expect(await modelWeightsSha256(dir, env, () => hashed++)).toBe(first);
    expect(hashed).toBe(1);
    const cache = JSON.parse(await readFile(join(env.WEBLORA_CACHE_DIR!, 'weights-sha256.json'), 'utf8'));
    expect(Object.values(cache)).toContainEqual(expect.objectContaining({ sha256: first }));
    // Other bytes, same size: the mtime moves, so the hash is computed again.
    const w = join(dir, 'model.safetensors');
    const bytes = await readFile(w);
    bytes[bytes.length - 1] ^= 1;
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(w, bytes);
    const second = await modelWeightsSha256(dir, env, () => hashed++);
    expect(hashed).toBe(2);
    expect(second).not.toBe(first);
    expect(second).toBe(await fileSha(w));
  });
});

describe('weblora train --resume and the model', () => {
  const flags = (model: string, out: string) => ['train', '--model', model, '--data', STORY_INSTRUCT, '--max-steps', '4', '--batch', '2', '--max-len', '64', '--backend', 'wasm', '--out', out];
  const interruptedRun = async (out: string) => {
    const r = await runCliInProcess(flags(STORIES_DIR, out), env, (all, io) => {
      if (/^step 2\/4 /m.test(all)) io.interrupts.fire();
    });
    expect(r.code).toBe(130);
    return r;
  };

  it('refuses other weights with the same config, naming both hashes; the same weights elsewhere resume', async () => {
    const out = join(scratch, 'run');
    await interruptedRun(out);
    const checkpoint = JSON.parse(await readFile(join(out, 'checkpoint', 'checkpoint.json'), 'utf8'));
    const base = await fileSha(join(STORIES_DIR, 'model.safetensors'));
    expect(checkpoint.run.model.weights_sha256).toBe(base);

    // A "fine-tune": every weight nudged; config, names, shapes and parameter count unchanged.
    const tuned = await storiesCopy(join(scratch, 'tuned'), (d) => d.forEach((v, i) => (d[i] = v * 1.001)));
    const other = await fileSha(join(tuned, 'model.safetensors'));
    const refused = await runCliInProcess([...flags(tuned, out), '--resume'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`the model's weights differ: SHA-256 ${base} in the checkpoint, ${other} now`);
    expect(refused.stderr).not.toMatch(/model\.(config_sha256|parameters)/);

    const same = await storiesCopy(join(scratch, 'same-elsewhere'), () => {});
    const resumed = await runCliInProcess([...flags(same, out), '--resume'], env);
    expect(resumed.stderr).toContain('resuming at step 2 of 4');
    expect(resumed.code).toBe(0);
    // The adapter says which weights it was trained on.
    const st = await openSafetensors(bytesSource('adapter', new Uint8Array(await readFile(join(out, 'adapter_model.safetensors')))));
    expect(st.metadata).toMatchObject({ format: 'pt', base_model_sha256: base });
  }, SLOW);

  it('a checkpoint from before weights were hashed resumes, with a note', async () => {
    const out = join(scratch, 'old-run');
    await interruptedRun(out);
    const path = join(out, 'checkpoint', 'checkpoint.json');
    const checkpoint = JSON.parse(await readFile(path, 'utf8'));
    delete checkpoint.run.model.weights_sha256;
    // As an older WebLoRA wrote it, self-checksum included (SHA-256 of the JSON without it).
    const { checksum: _old, ...body } = checkpoint;
    await writeFile(path, JSON.stringify({ ...body, checksum: createHash('sha256').update(JSON.stringify(body)).digest('hex') }));
    const resumed = await runCliInProcess([...flags(STORIES_DIR, out), '--resume'], env);
    expect(resumed.stderr).toContain("note: this checkpoint predates WebLoRA's record of the model's weights (SHA-256)");
    expect(resumed.code).toBe(0);
  }, SLOW);
});

describe('the app: weights hashed at load, cached under the file they came from', () => {
  it('dropped files are stamped by path, size and mtime; the hash is the file\'s SHA-256', async () => {
    const names = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
    const files = await Promise.all(names.map(async (n) => new File([new Uint8Array(await readFile(join(STORIES_DIR, n)))], n, { lastModified: 1_700_000_000_000 })));
    const m = await loadModelFromFiles(files);
    expect(m.weights.stamp).toEqual({ key: 'file:model.safetensors', size: m.weights.size, mtimeMs: 1_700_000_000_000 });
    expect(await appWeightsSha256(m.weights)).toBe(await fileSha(join(STORIES_DIR, 'model.safetensors')));
  });

  it('a hub download in the Cache API is stamped by its URL and ETag, so a moved revision is hashed anew', async () => {
    const bodies = new Map<string, { body: Uint8Array; headers: Record<string, string> }>();
    const cache = {
      match: async (k: string) => {
        const e = bodies.get(k);
        return e && new Response(e.body.slice(), { headers: e.headers });
      },
      put: async () => {},
    };
    const loc = hubLocation('org/model');
    const store = webStore('browser', cache, loc);
    bodies.set(remoteUrl(loc, 'model.safetensors'), { body: new Uint8Array([1, 2, 3]), headers: { etag: '"abc"' } });
    const first = await store.open('model.safetensors');
    expect(first?.stamp).toEqual({ key: `${remoteUrl(loc, 'model.safetensors')}#"abc"`, size: 3, mtimeMs: 0 });
    bodies.set(remoteUrl(loc, 'model.safetensors'), { body: new Uint8Array([1, 2, 4]), headers: { etag: '"def"' } });
    expect((await store.open('model.safetensors'))?.stamp?.key).toBe(`${remoteUrl(loc, 'model.safetensors')}#"def"`);
  });
});

describe('resuming in another precision', () => {
  const run = (precision?: string, r = 8) => ({ model: { parameters: 1, config_sha256: 'c', weights_sha256: 'w' }, lora: { r }, ...(precision ? { precision } : {}) });

  it('is allowed, with a note naming both precisions', () => {
    const notes: string[] = [];
    expect(resumeDifferences(run('f16-base'), run('fp32'), (l) => notes.push(l))).toEqual([]);
    expect(notes.join('')).toMatch(/checkpointed in precision f16-base and resumes in fp32/);
  });

  it('says nothing when unchanged; a checkpoint from before the setting counts as fp32', () => {
    const notes: string[] = [];
    expect(resumeDifferences(run('fp32'), run('fp32'), (l) => notes.push(l))).toEqual([]);
    expect(resumeDifferences(run(), run('fp32'), (l) => notes.push(l))).toEqual([]);
    expect(notes).toEqual([]);
    resumeDifferences(run(), run('f16-base'), (l) => notes.push(l));
    expect(notes.join('')).toMatch(/precision fp32 and resumes in f16-base/);
  });

  it('still refuses what changes the run', () => {
    expect(resumeDifferences(run('f16-base', 8), run('fp32', 4), () => undefined)).toEqual(['lora.r: 8 in the checkpoint, 4 now']);
  });
});
