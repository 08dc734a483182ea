// Opening a model folder and an adapter folder from disk.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadModelFromFolder } from '../../engine/model/source/source-folder';
import { Session } from '../../engine/session';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, type PeftFiles } from '../../engine/lora/peft';

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

export async function writeAdapterDir(dir: string, files: PeftFiles): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, ADAPTER_CONFIG), files.config);
  await writeFile(join(dir, ADAPTER_WEIGHTS), files.weights);
}
