// Running the CLI in-process (main(argv, io), output captured) and making altered copies of
// stories260K in a scratch folder — for tests that need "the same model, other weights".
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main, Interrupts, type CliIO } from '../../src/cli/main';
import { STORIES_DIR } from './paths';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `onStdout` sees all stdout so far after each write (e.g. to fire io.interrupts, like Ctrl-C). */
export async function runCliInProcess(argv: string[], env: Record<string, string> = {}, onStdout?: (all: string, io: CliIO) => void): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: (t) => {
      stdout += t;
      onStdout?.(stdout, io);
    },
    stderr: (t) => void (stderr += t),
    env,
    interrupts: new Interrupts(),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

const MODEL_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];

/**
 * stories260K copied to `dir` with `change` applied to the F32 values of model.safetensors' data
 * (header untouched: same config, same names and shapes).
 */
export async function storiesCopy(dir: string, change: (data: Float32Array) => void): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const f of MODEL_FILES) {
    const bytes = await readFile(join(STORIES_DIR, f));
    if (f === 'model.safetensors') {
      const start = 8 + Number(bytes.readBigUInt64LE(0));
      const copy = new Uint8Array(bytes);
      change(new Float32Array(copy.buffer, copy.byteOffset + start, Math.floor((copy.byteLength - start) / 4)));
      await writeFile(join(dir, f), copy);
    } else await writeFile(join(dir, f), bytes);
  }
  return dir;
}
