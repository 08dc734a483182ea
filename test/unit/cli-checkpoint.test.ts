// The CLI's checkpoint files on their own: exact round trip, the last two kept, and a
// clear error for a folder with no checkpoint. (The end-to-end resume is in cli.test.ts.)
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointDir, readCheckpoint, removeCheckpoint, writeCheckpoint, type SavedCheckpoint } from '../../src/cli/train/checkpoint';
import { sha256 } from '../../src/cli/train/identity';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/engine/train/trainer';

function sample(step: number): SavedCheckpoint {
  const f = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 0.37 + k) * 1e-3 * step));
  return {
    train: {
      version: 1,
      step,
      options: { ...DEFAULT_TRAIN_OPTIONS, padId: 2, maxSteps: 10 },
      adapter: { 'model.layers.0.self_attn.q_proj.lora_A': f(16, 1), 'model.layers.0.self_attn.q_proj.lora_B': f(24, 2) },
      optimizer: { step, m: [f(16, 3), f(24, 4)], v: [f(16, 5).map(Math.abs), f(24, 6).map(Math.abs)] },
      losses: Array.from({ length: step }, (_, i) => Math.fround(2.5 - i * 0.013)),
    },
    run: { data: { sha256: 'abc', bytes: 12 }, lora: { r: 8 } },
    log: [{ type: 'step', step: 1, epoch: 1, loss: 2.5, lr: 2e-4, grad_norm: 1, tokens: 10, trained_tokens: 5, tokens_per_sec: 3, elapsed_ms: 4 }],
    elapsedMs: 1234.5,
  };
}

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'weblora-ckpt-'));
});
afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

describe('CLI checkpoint files', () => {
  it('round-trip bit-exactly, keeping the last two checkpoints', async () => {
    writeCheckpoint(out, sample(1));
    writeCheckpoint(out, sample(2));
    const cp = sample(4);
    writeCheckpoint(out, cp);
    expect(readdirSync(checkpointDir(out)).sort()).toEqual(['checkpoint-000002.json', 'checkpoint-000004.json', 'checkpoint.json', 'state-000002.safetensors', 'state-000004.safetensors']);
    const back = await readCheckpoint(out);
    expect(back.train.step).toBe(4);
    expect(back.train.options).toEqual(cp.train.options);
    expect(back.train.losses).toEqual(cp.train.losses);
    expect(back.train.optimizer.step).toBe(4);
    for (const [k, v] of Object.entries(cp.train.adapter)) expect(Array.from(back.train.adapter[k]!)).toEqual(Array.from(v));
    expect(Object.keys(back.train.adapter)).toEqual(Object.keys(cp.train.adapter)); // the trainer's order
    back.train.optimizer.m.forEach((m, i) => expect(Array.from(m)).toEqual(Array.from(cp.train.optimizer.m[i]!)));
    back.train.optimizer.v.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(cp.train.optimizer.v[i]!)));
    expect(back.run).toEqual(cp.run);
    expect(back.log).toEqual(cp.log);
    expect(back.elapsedMs).toBe(1234.5);
  });

  it('removeCheckpoint deletes only its own files', async () => {
    writeCheckpoint(out, sample(1));
    await writeFile(join(checkpointDir(out), 'notes.txt'), 'mine');
    expect(removeCheckpoint(out)).toBe(true);
    expect(readdirSync(checkpointDir(out))).toEqual(['notes.txt']);
    await rm(join(checkpointDir(out), 'notes.txt'));
    writeCheckpoint(out, sample(1));
    removeCheckpoint(out);
    expect(existsSync(checkpointDir(out))).toBe(false);
  });

  it('a folder without a checkpoint, or a damaged one, is a clear error', async () => {
    await expect(readCheckpoint(join(out, 'nothing-here'))).rejects.toThrow(/there is no checkpoint in .*checkpoint \(one is written by --checkpoint-every N/);
    writeCheckpoint(out, sample(3));
    const valid = JSON.parse(await readFile(join(checkpointDir(out), 'checkpoint.json'), 'utf8'));
    const { checksum: _checksum, ...body } = { ...valid, tensors: 'state-000009.safetensors' };
    await writeFile(join(checkpointDir(out), 'checkpoint.json'), JSON.stringify({ ...body, checksum: sha256(JSON.stringify(body)) }));
    await expect(readCheckpoint(out)).rejects.toThrow(/state-000009\.safetensors, which cannot be read/);
    await writeFile(join(checkpointDir(out), 'checkpoint.json'), '{oops');
    await expect(readCheckpoint(out)).rejects.toThrow(/checkpoint\.json: not valid JSON/);
  });
});
