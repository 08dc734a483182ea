// Every file the CLI writes goes through here: written whole to a temporary name in the same
// folder, flushed, then renamed over the old one (rename within a folder is atomic on POSIX file
// systems). A reader - or a run killed at any moment, or a full disk - therefore sees either the
// previous complete file or the new complete file, never a part. A failed write removes its
// temporary file and leaves the previous file as it was.
//
// A group of files (an adapter: weights, then its config) is staged first, all of it, and only
// then renamed in order, so a failure while writing any of them changes none.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describeFsError } from './fs-errors';

export interface OutputFile {
  /** Full path of the final file. */
  path: string;
  data: string | Uint8Array;
}

/**
 * For tests only: called before each chunk is written, so a test can fail a write part-way
 * (a full disk) without a full disk. Never set outside tests.
 */
export const writeFaults: { beforeChunk: ((path: string, offset: number) => void) | null } = { beforeChunk: null };

const CHUNK = 1 << 14;

/** A failed write, in words, with nothing left behind. */
export class OutputWriteError extends Error {
  override name = 'OutputWriteError';
  constructor(
    message: string,
    readonly path: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** The temporary name of `path`: hidden, in the same folder, unique to this process. */
export function tempPathOf(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

/** True for the temporary files this module leaves only while writing (for clean-up and tests). */
export function isTempName(name: string): boolean {
  return /^\..+\.\d+\.tmp$/.test(name);
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  writeFilesAtomic([{ path, data }]);
}

/** Stages every file, then renames them in the order given (put the one that makes the set valid last). */
export function writeFilesAtomic(files: readonly OutputFile[]): void {
  const staged: string[] = [];
  try {
    for (const f of files) {
      const temp = tempPathOf(f.path);
      staged.push(temp);
      writeWhole(temp, f.path, f.data);
    }
  } catch (e) {
    for (const t of staged) removeQuietly(t);
    throw e;
  }
  files.forEach((f, i) => {
    try {
      renameSync(staged[i]!, f.path);
    } catch (e) {
      for (const t of staged.slice(i)) removeQuietly(t);
      throw new OutputWriteError(describeFsError('write', f.path, e), f.path, (e as { code?: string }).code);
    }
  });
}

/** Writes `data` to `path`'s temporary name and returns it; the caller renames or links it into place. */
export function writeTemp(path: string, data: string | Uint8Array): string {
  const temp = tempPathOf(path);
  try {
    writeWhole(temp, path, data);
  } catch (e) {
    removeQuietly(temp);
    throw e;
  }
  return temp;
}

function writeWhole(temp: string, finalPath: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'w');
    for (let off = 0; off < bytes.length || off === 0; off += CHUNK) {
      writeFaults.beforeChunk?.(finalPath, off);
      const end = Math.min(off + CHUNK, bytes.length);
      let done = off;
      while (done < end) done += writeSync(fd, bytes, done, end - done);
      if (bytes.length === 0) break;
    }
    // On disk before the rename makes it the file: a power cut cannot leave a renamed empty file.
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
  } catch (e) {
    if (fd !== undefined) closeQuietly(fd);
    throw new OutputWriteError(describeFsError('write', finalPath, e), finalPath, (e as { code?: string }).code);
  }
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or never created.
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // The write failed already; that is the error to report.
  }
}
