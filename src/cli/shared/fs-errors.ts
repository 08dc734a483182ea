// File-system failures in words: what happened to which path and what to do, instead of Node's
// "EROFS: read-only file system, open '…'". The errno code is kept at the end for searching.

const WHY: Record<string, { what: string; todo: string }> = {
  ENOSPC: { what: 'the disk is full', todo: 'free some space (or choose a folder on another disk) and run again' },
  EDQUOT: { what: 'your disk quota is used up', todo: 'free some space (or choose a folder on another disk) and run again' },
  EROFS: { what: 'it is on a read-only file system', todo: 'choose a folder on a writable disk' },
  EACCES: { what: 'permission is denied', todo: 'choose a folder you can write to, or change its permissions' },
  EPERM: { what: 'the operation is not permitted there', todo: 'choose a folder you can write to' },
  ENOTDIR: { what: 'a part of the path is a file, not a folder', todo: 'choose a path whose parents are folders' },
  EISDIR: { what: 'it is a folder', todo: 'remove or rename that folder' },
  ENAMETOOLONG: { what: 'the path is too long', todo: 'choose a shorter path' },
  EIO: { what: 'the disk reported an input/output error', todo: 'check the disk, or choose a folder on another one' },
  EMFILE: { what: 'too many files are open', todo: 'close other programs and run again' },
};

export function errnoCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** "could not write X: the disk is full (ENOSPC); free some space … ". */
export function describeFsError(action: string, path: string, e: unknown): string {
  const code = errnoCode(e);
  const why = code ? WHY[code] : undefined;
  if (why) return `could not ${action} ${path}: ${why.what} (${code}); ${why.todo}`;
  const raw = e instanceof Error ? e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '[^']*'$/, '') : String(e);
  return `could not ${action} ${path}: ${raw}${code ? ` (${code})` : ''}`;
}
