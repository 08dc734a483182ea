// Node only: a model folder on disk (a hub snapshot, or files saved by transformers' save_pretrained).
// Offline by construction: nothing here can reach a network.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileSource } from '../byte-source-node';
import { assembleModelFiles } from './source-assemble';
import { ModelSourceError } from './source-errors';
import { WEIGHTS_FILE, type ModelFiles } from './source-types';

export async function loadModelFromFolder(dir: string): Promise<ModelFiles> {
  const root = resolve(dir);
  const info = await stat(root).catch(() => null);
  if (!info?.isDirectory()) throw new ModelSourceError(`${root} is not a folder`);

  // Only plain files count (hub snapshots are symlinks into blobs/: stat follows them).
  const present = new Set<string>();
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (entry.isFile() || (entry.isSymbolicLink() && (await stat(join(root, entry.name)).catch(() => null))?.isFile())) {
      present.add(entry.name);
    }
  }
  return assembleModelFiles({
    where: root,
    name: basename(root),
    has: (file) => present.has(file),
    text: (file) => readFile(join(root, file), 'utf8'),
    weights: () => fileSource(join(root, WEIGHTS_FILE)),
  });
}
