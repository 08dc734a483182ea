// Opening a model folder and an adapter folder from disk.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadModelFromFolder } from '../../engine/model/source/source-folder';
import { Session } from '../../engine/session';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, type PeftFiles } from '../../engine/lora/peft';
import { writeFilesAtomic, type OutputFile } from './atomic-write';

export async function openModel(dir: string): Promise<Session> {
  return Session.open(await loadModelFromFolder(dir));
}

export async function readAdapterDir(dir: string): Promise<PeftFiles> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new Error(`adapter folder ${dir} does not exist`);
  const read = async <T>(file: string, how: (p: string) => Promise<T>) => {
    try {
      return await how(join(dir, file));
    } catch {
      throw new Error(`${dir} has no readable ${file}: an adapter folder holds ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS}`);
    }
  };
  const config = await read(ADAPTER_CONFIG, (p) => readFile(p, 'utf8'));
  const bytes = await read(ADAPTER_WEIGHTS, (p) => readFile(p));
  return { config, weights: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/**
 * The adapter's files, and `alongside` (the run's log), each written whole and renamed into
 * place with adapter_config.json last: a folder holds the previous adapter or this one, never a
 * mix or a part. `dir` exists (train checks --out before any work).
 */
export function writeAdapterDir(dir: string, files: PeftFiles, alongside: readonly OutputFile[] = []): void {
  writeFilesAtomic([{ path: join(dir, ADAPTER_WEIGHTS), data: files.weights }, ...alongside, { path: join(dir, ADAPTER_CONFIG), data: files.config }]);
}
