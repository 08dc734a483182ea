// The --out folder of a run: checked to be a writable folder before any work, and locked so two
// runs cannot write the same adapter and checkpoint at once. The lock is a file naming its owner
// (pid, host, start time), created atomically (link() fails when it exists); a lock whose process
// is gone (a crash, kill -9, a power cut) is taken over with a note.
import { linkSync, mkdirSync, readFileSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { removeQuietly, writeTemp } from './atomic-write';
import { describeFsError, errnoCode } from './fs-errors';

export const LOCK_FILE = '.weblora.lock';

interface LockOwner {
  pid: number;
  host: string;
  started: string;
  command: string;
}

export interface OutLock {
  path: string;
  /** Set when a stale lock was taken over: a line to show the user. */
  note?: string;
  release(): void;
}

/** Makes `out` (and its parents) when missing; refuses a file, or a folder that cannot be written. */
export function prepareOutDir(out: string): void {
  const info = statOrNull(out);
  if (info && !info.isDirectory()) {
    throw new Error(`--out ${out} is a file, not a folder: give a folder for the adapter (it is created if missing)`);
  }
  if (!info) {
    try {
      mkdirSync(out, { recursive: true });
    } catch (e) {
      throw new Error(`--out: ${describeFsError('create the folder', out, realCause(out, e))}`);
    }
  }
}

/**
 * Node's recursive mkdir reports ENOENT for a folder it cannot create on a read-only disk; making
 * the first missing folder alone gives the real reason (EROFS, EACCES, ENOTDIR).
 */
function realCause(out: string, e: unknown): unknown {
  if (errnoCode(e) !== 'ENOENT') return e;
  let missing = resolve(out);
  while (!statOrNull(dirname(missing)) && dirname(missing) !== missing) missing = dirname(missing);
  try {
    mkdirSync(missing);
    rmdirSync(missing);
    return e;
  } catch (inner) {
    return inner;
  }
}

/**
 * Prepares `out` and locks it for this process (the lock file is also the check that the folder
 * can be written). `resume` only changes the wording of a refusal.
 */
export function lockOutDir(out: string, { command, resume = false }: { command: string; resume?: boolean }): OutLock {
  prepareOutDir(out);
  const path = join(out, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command };
  let note: string | undefined;
  for (let attempt = 0; ; attempt++) {
    if (tryCreate(path, me, out)) break;
    const owner = readOwner(path);
    if (owner === 'gone') continue;
    if (owner === 'unreadable' || isRunning(owner) || attempt > 0) throw busy(out, path, owner, resume);
    removeQuietly(path);
    note = `note: took over the lock in ${out} of a run that is no longer running (${describeOwner(owner)})`;
  }
  const mine = JSON.stringify(me);
  const release = () => {
    process.removeListener('exit', release);
    // Only our own lock: a run that took over a lock we left must keep it.
    try {
      if (readFileSync(path, 'utf8') === mine) unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
  // A second Ctrl-C quits with process.exit(): the lock goes with it.
  process.on('exit', release);
  return { path, release, ...(note ? { note } : {}) };
}

function tryCreate(path: string, me: LockOwner, out: string): boolean {
  let temp: string;
  try {
    temp = writeTemp(path, JSON.stringify(me));
  } catch (e) {
    throw new Error(`--out ${out} cannot be written: ${describeFsError('write', path, e).replace(/^could not write [^:]*: /, '')}`);
  }
  try {
    linkSync(temp, path);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return false;
    throw new Error(`--out ${out} cannot be written: ${describeFsError('create', path, e).replace(/^could not create [^:]*: /, '')}`);
  } finally {
    removeQuietly(temp);
  }
}

function readOwner(path: string): LockOwner | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return errnoCode(e) === 'ENOENT' ? 'gone' : 'unreadable';
  }
  try {
    const j = JSON.parse(text) as Partial<LockOwner>;
    if (typeof j.pid === 'number' && typeof j.host === 'string' && typeof j.started === 'string') {
      return { pid: j.pid, host: j.host, started: j.started, command: String(j.command ?? 'weblora') };
    }
  } catch {
    // Not ours, or damaged: a person has to look.
  }
  return 'unreadable';
}

function isRunning(o: LockOwner): boolean {
  // Another machine's processes cannot be seen from here: assume it is running.
  if (o.host !== hostname()) return true;
  try {
    process.kill(o.pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

function describeOwner(o: LockOwner): string {
  return `${o.command}, pid ${o.pid} on ${o.host}, started ${o.started}`;
}

function busy(out: string, path: string, owner: LockOwner | 'unreadable', resume: boolean): Error {
  const who = owner === 'unreadable' ? 'another run (its lock file cannot be read)' : `another run (${describeOwner(owner)})`;
  const unlock = `If no run is going there, delete ${path} and try again.`;
  if (resume) {
    return new Error(`--resume: the run in ${out} is still going: ${who} holds it. Stop that run first (Ctrl-C writes its checkpoint), then resume. ${unlock}`);
  }
  return new Error(`--out ${out} is in use by ${who}: two runs cannot write the same folder. Wait for it to finish, stop it, or choose another --out. ${unlock}`);
}

function statOrNull(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}
