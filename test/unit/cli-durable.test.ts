// Nothing lost at the end of a run (issue 13, items 1 and 10): --out is checked and locked before
// any work; every output is written whole and renamed, so a failed write (a full disk, injected
// here through atomic-write's test hook, since tests may run as root where permissions do not
// block writes) leaves the previous adapter byte for byte and no partial or temporary file; the
// last K checkpoints are kept, each with checksums that --resume verifies.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeFaults } from '../../src/cli/shared/atomic-write';
import { LOCK_FILE, lockOutDir } from '../../src/cli/shared/out-lock';
import type { CliIO } from '../../src/cli/main';
import { runCliInProcess } from '../helpers/cli-run';
import { DATA_DIR, STORIES_DIR } from '../helpers/paths';

const STORY_DATA = join(DATA_DIR, 'story-instruct/train.jsonl');
const TRAIN = ['train', '--model', STORIES_DIR, '--data', STORY_DATA, '--batch', '2', '--max-len', '64', '--backend', 'cpu'];
const SLOW = 300_000;
const cli = (argv: string[], o: { onStdout?: (all: string, io: CliIO) => void } = {}) => runCliInProcess(argv, {}, o.onStdout);

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'weblora-durable-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
afterEach(() => {
  writeFaults.beforeChunk = null;
});

const errno = (code: string) => Object.assign(new Error(`${code}: injected`), { code });
const snapshot = async (dir: string) => Object.fromEntries(await Promise.all(readdirSync(dir).map(async (f) => [f, await readFile(join(dir, f))] as const)));
const stepLosses = async (out: string) =>
  (JSON.parse(await readFile(join(out, 'train_log.json'), 'utf8')).records as Array<{ type: string; loss: number }>).filter((r) => r.type === 'step').map((r) => r.loss);

describe('--out is checked before any work', () => {
  it('a path under a file is refused before the model loads, naming the path and what to do', async () => {
    const file = join(tmp, 'a-file');
    await writeFile(file, 'x');
    const r = await cli([...TRAIN, '--max-steps', '1', '--out', join(file, 'out')]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/backend:|step 1/); // no work started
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`could not create the folder ${join(file, 'out')}: a part of the path is a file, not a folder`);
    expect(r.stderr).toMatch(/choose a path whose parents are folders/);
    expect(r.stderr).not.toMatch(/ENOTDIR: /); // not Node's raw text
  });

  it('a file as --out is refused', async () => {
    const file = join(tmp, 'out-file');
    await writeFile(file, 'x');
    const r = await cli([...TRAIN, '--max-steps', '1', '--out', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/backend:/);
    expect(r.stderr).toContain(`--out ${file} is a file, not a folder`);
  });

  it('a read-only --out is refused before step 1 (the lock file is the write check)', async () => {
    const out = join(tmp, 'read-only');
    writeFaults.beforeChunk = (path) => {
      if (path.startsWith(out)) throw errno('EROFS');
    };
    const r = await cli([...TRAIN, '--max-steps', '1', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/backend:|step 1/);
    expect(r.stderr).toContain(`--out ${out} cannot be written: it is on a read-only file system (EROFS); choose a folder on a writable disk`);
    expect(readdirSync(out)).toEqual([]);
  });
});

describe('a failed write keeps the previous adapter', () => {
  it('a full disk while saving the adapter (weights or config) leaves the old files byte for byte, and no partial or temporary file', async () => {
    const out = join(tmp, 'full-disk');
    const first = await cli([...TRAIN, '--max-steps', '2', '--out', out]);
    expect(first.code, first.stderr).toBe(0);
    const before = await snapshot(out);
    expect(Object.keys(before).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'train_log.json']);

    for (const failing of ['adapter_model.safetensors', 'adapter_config.json', 'train_log.json']) {
      // The weights (38,368 bytes) fail after their first 16 KiB chunk is on disk, as a disk
      // filling up would; the small files at their start.
      let partial = 0;
      writeFaults.beforeChunk = (path, offset) => {
        if (!path.endsWith(failing)) return;
        partial = offset;
        if (offset > 0 || failing !== 'adapter_model.safetensors') throw errno('ENOSPC');
      };
      const r = await cli([...TRAIN, '--max-steps', '2', '--seed', '7', '--out', out]);
      writeFaults.beforeChunk = null;
      if (failing === 'adapter_model.safetensors') expect(partial).toBe(16384);
      expect(r.code, failing).toBe(1);
      expect(r.stdout).toMatch(/^step 2\/2 /m);
      expect(r.stderr).toContain(`could not write ${join(out, failing)}: the disk is full (ENOSPC)`);
      expect(r.stderr).toMatch(/Nothing partial was left: the files already in .* are unchanged/);
      const after = await snapshot(out);
      expect(Object.keys(after).sort(), failing).toEqual(Object.keys(before).sort()); // no .tmp, no lock
      for (const [f, bytes] of Object.entries(before)) expect(after[f]!.equals(bytes), `${f} after ${failing} failed`).toBe(true);
    }
    // And with room again, the new adapter replaces the old one whole.
    const ok = await cli([...TRAIN, '--max-steps', '2', '--seed', '7', '--out', out]);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await snapshot(out))['adapter_model.safetensors']!.equals(before['adapter_model.safetensors']!)).toBe(false);
  }, SLOW);

  it('a full disk while writing a checkpoint keeps the previous checkpoint, which --resume continues', async () => {
    const out = join(tmp, 'full-disk-checkpoint');
    let writes = 0;
    writeFaults.beforeChunk = (path, offset) => {
      if (path.includes('state-000003') && offset === 0 && ++writes === 1) throw errno('ENOSPC');
    };
    const r = await cli([...TRAIN, '--max-steps', '4', '--checkpoint-every', '1', '--out', out]);
    writeFaults.beforeChunk = null;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the disk is full \(ENOSPC\).*The checkpoint of step 2 is intact: run the same command with --resume/);
    expect(readdirSync(join(out, 'checkpoint')).sort()).toEqual(['checkpoint-000001.json', 'checkpoint-000002.json', 'checkpoint.json', 'state-000001.safetensors', 'state-000002.safetensors']);
    const resumed = await cli([...TRAIN, '--max-steps', '4', '--checkpoint-every', '1', '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('resuming at step 2 of 4');
  }, SLOW);
});

// Where this process may mount a small tmpfs (root with CAP_SYS_ADMIN): the same on a real full
// and a real read-only disk, not an injected failure.
function mountTmpfs(dir: string, kib: number): boolean {
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir]).status === 0;
}
const canMount = (() => {
  if (process.platform !== 'linux') return false;
  const probe = mkdtempSync(join(tmpdir(), 'weblora-mount-'));
  const ok = mountTmpfs(probe, 64);
  if (ok) spawnSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return ok;
})();

describe.runIf(canMount)('on a real small disk (tmpfs)', () => {
  it('full: the previous adapter stays byte for byte; read-only: refused before any work', async () => {
    const disk = join(tmp, 'tmpfs');
    await mkdir(disk);
    expect(mountTmpfs(disk, 256)).toBe(true);
    try {
      const out = join(disk, 'run');
      const first = await cli([...TRAIN, '--max-steps', '2', '--max-len', '128', '--out', out]);
      expect(first.code, first.stderr).toBe(0);
      const before = await snapshot(out);
      // Leave 24 KiB: less than the 38 KB adapter.
      const free = Number(/\d+\s*$/.exec(spawnSync('df', ['-k', '--output=avail', disk]).stdout.toString().trim())![0]);
      await writeFile(join(disk, 'filler'), new Uint8Array((free - 24) * 1024));
      const full = await cli([...TRAIN, '--max-steps', '2', '--max-len', '128', '--seed', '5', '--out', out]);
      expect(full.code).toBe(1);
      expect(full.stderr).toContain(`could not write ${join(out, 'adapter_model.safetensors')}: the disk is full (ENOSPC)`);
      const after = await snapshot(out);
      expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
      for (const [f, bytes] of Object.entries(before)) expect(after[f]!.equals(bytes), f).toBe(true);

      expect(spawnSync('mount', ['-o', 'remount,ro', disk]).status).toBe(0);
      const ro = await cli([...TRAIN, '--max-steps', '2', '--out', join(disk, 'new', 'run')]);
      expect(ro.code).toBe(1);
      expect(ro.stderr).not.toMatch(/backend:/);
      expect(ro.stderr).toContain('it is on a read-only file system (EROFS); choose a folder on a writable disk');
    } finally {
      spawnSync('umount', [disk]);
    }
  }, SLOW);
});

describe('one run per --out', () => {
  it('a second run, or a --resume, on a folder in use is refused; a dead run\'s lock is taken over with a note', async () => {
    const out = join(tmp, 'locked');
    const held = lockOutDir(out, { command: 'weblora train' });
    try {
      const lock = JSON.parse(await readFile(join(out, LOCK_FILE), 'utf8'));
      expect(lock).toMatchObject({ pid: process.pid, host: hostname(), command: 'weblora train' });
      expect(Number.isNaN(Date.parse(lock.started))).toBe(false);
      const second = await cli([...TRAIN, '--max-steps', '1', '--out', out]);
      expect(second.code).toBe(1);
      expect(second.stderr).not.toMatch(/backend:/);
      expect(second.stderr).toMatch(new RegExp(`--out ${out} is in use by another run \\(weblora train, pid ${process.pid} on .*\\): two runs cannot write the same folder`));
      const resume = await cli([...TRAIN, '--max-steps', '1', '--out', out, '--resume']);
      expect(resume.code).toBe(1);
      expect(resume.stderr).toMatch(/--resume: the run in .* is still going/);
    } finally {
      held.release();
    }
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
    // A crashed run's lock: its pid is gone.
    await writeFile(join(out, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 17, host: hostname(), started: '2026-01-01T00:00:00.000Z', command: 'weblora train' }));
    const after = await cli([...TRAIN, '--max-steps', '1', '--out', out]);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stderr).toMatch(/note: took over the lock .* of a run that is no longer running \(weblora train, pid 4194321/);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  }, SLOW);
});

describe('checkpoints: the last K kept, checksums verified on resume', () => {
  it('keeps --keep-checkpoints K; a flipped bit is refused naming the file; --resume-from the previous one repeats the uninterrupted run', async () => {
    const reference = join(tmp, 'ckpt-reference');
    const ref = await cli([...TRAIN, '--max-steps', '4', '--out', reference]);
    expect(ref.code, ref.stderr).toBe(0);

    const out = join(tmp, 'ckpt');
    const stopped = await cli([...TRAIN, '--max-steps', '4', '--checkpoint-every', '1', '--keep-checkpoints', '2', '--out', out], {
      onStdout: (all, io) => {
        if (/^step 3\/4 /m.test(all)) io.interrupts.fire();
      },
    });
    expect(stopped.code).toBe(130);
    const dir = join(out, 'checkpoint');
    expect(readdirSync(dir).sort()).toEqual(['checkpoint-000002.json', 'checkpoint-000003.json', 'checkpoint.json', 'state-000002.safetensors', 'state-000003.safetensors']);
    const latest = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8'));
    expect(latest.step).toBe(3);
    expect(latest.tensors_sha256).toMatch(/^[0-9a-f]{64}$/);

    // One bit flipped in the newest state file.
    const state = join(dir, 'state-000003.safetensors');
    const bytes = await readFile(state);
    bytes[bytes.length - 5]! ^= 0x10;
    await writeFile(state, bytes);
    const refused = await cli([...TRAIN, '--max-steps', '4', '--checkpoint-every', '1', '--out', out, '--resume']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).not.toMatch(/^step /m);
    expect(refused.stderr).toContain(`${state} is damaged: its SHA-256 differs from the one recorded in ${join(dir, 'checkpoint.json')}`);
    expect(refused.stderr).toMatch(/Resume from the previous checkpoint instead: --resume-from 2 \(kept: steps 2, 3\)/);

    const resumed = await cli([...TRAIN, '--max-steps', '4', '--checkpoint-every', '1', '--out', out, '--resume-from', '2']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('resuming at step 2 of 4');
    expect(await stepLosses(out)).toEqual(await stepLosses(reference));
    expect((await readFile(join(out, 'adapter_model.safetensors'))).equals(await readFile(join(reference, 'adapter_model.safetensors')))).toBe(true);
    expect(existsSync(dir)).toBe(false);
  }, SLOW);

  it('--keep-checkpoints is in the help with its default', async () => {
    const r = await cli(['train', '--help']);
    expect(r.stdout).toMatch(/--keep-checkpoints K +keep the last K checkpoints \(default 2\)/);
    expect(r.stdout).toMatch(/--resume-from STEP/);
  });
});

describe('a damaged checkpoint.json names the file and the field', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['null', 'null', /checkpoint\.json: not a checkpoint \(expected a JSON object, found null\)/],
    ['wrong type', '{"format": "weblora-checkpoint", "version": 2, "step": "three"}', /checkpoint\.json: field "step" should be a whole number, found "three"/],
    ['missing field', '{"format": "weblora-checkpoint", "version": 2, "step": 3, "tensors": null}', /checkpoint\.json: field "tensors" should be the name of a state-NNNNNN\.safetensors file, found null/],
  ];
  it.each(cases)('%s', async (_name, text, message) => {
    const out = join(tmp, `bad-json-${_name.replace(/ /g, '-')}`);
    await mkdir(join(out, 'checkpoint'), { recursive: true });
    await writeFile(join(out, 'checkpoint', 'checkpoint.json'), text);
    const r = await cli([...TRAIN, '--max-steps', '1', '--out', out, '--resume']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(join(out, 'checkpoint', 'checkpoint.json'));
    expect(r.stderr).toMatch(/delete .*checkpoint to start over/);
    expect(r.stderr).not.toMatch(/Cannot read properties/);
  });
});
