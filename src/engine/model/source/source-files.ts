// Dropped or chosen File objects (a folder via <input webkitdirectory> or drag and drop, or single
// files). Works wherever File exists: browsers, workers, and Node 20 for tests.
import { blobSource } from '../byte-source';
import { assembleModelFiles } from './source-assemble';
import { WEIGHTS_FILE, type ModelFiles } from './source-types';

export async function loadModelFromFiles(files: File[]): Promise<ModelFiles> {
  const byName = pickByName(files);
  const folder = commonFolder(files);
  return assembleModelFiles({
    where: folder ? `the dropped folder "${folder}"` : 'the chosen files',
    name: folder,
    has: (file) => byName.has(file),
    text: (file) => byName.get(file)!.text(),
    weights: async () => {
      const file = byName.get(WEIGHTS_FILE)!;
      const stamp = { key: `file:${relativePath(file) || file.name}`, size: file.size, mtimeMs: file.lastModified };
      return { ...blobSource(WEIGHTS_FILE, file), close: async () => {}, stamp };
    },
  });
}

/** Path inside a dropped folder ("" for a single chosen file; Node's File has none). */
function relativePath(file: File): string {
  return (file as File & { webkitRelativePath?: string }).webkitRelativePath ?? '';
}

/**
 * Basename -> File. A dropped repo folder can hold the same name twice (e.g. original/ or onnx/
 * subfolders); the copy nearest the top is the one transformers would read.
 */
function pickByName(files: File[]): Map<string, File> {
  const depth = (f: File) => relativePath(f).split('/').length;
  const out = new Map<string, File>();
  for (const file of files) {
    const name = relativePath(file).split('/').pop() || file.name;
    const seen = out.get(name);
    if (!seen || depth(file) < depth(seen)) out.set(name, file);
  }
  return out;
}

function commonFolder(files: File[]): string | null {
  const tops = new Set(files.map((f) => (relativePath(f).includes('/') ? relativePath(f).split('/')[0] : '')));
  const [only] = tops;
  return tops.size === 1 && only ? only : null;
}
