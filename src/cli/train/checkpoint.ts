// The CLI's checkpoint: everything Trainer.restore needs to continue exactly where a run stopped.
//
//   OUT/checkpoint/checkpoint.json          step, options, losses, tensor names, run identity, log so far
//   OUT/checkpoint/state-NNNNNN.safetensors adapter/<module>.lora_{A,B}, adam_m/<same>, adam_v/<same>
//                                           (F32, flat; the JSON lists them in the trainer's order)
//
// Data order, dropout masks and the schedule are functions of (seed, step), so they need no state.
// checkpoint.json is renamed into place last and names its own state file: a run killed while
// writing leaves the previous checkpoint whole.
import { mkdirSync, readdirSync, renameSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesSource } from '../../engine/model/byte-source';
import { openSafetensors, writeSafetensors } from '../../engine/model/safetensors';
import type { TrainCheckpoint } from '../../engine/train/trainer';
import type { LogRecord } from './log';

export const CHECKPOINT_DIR = 'checkpoint';
const CHECKPOINT_JSON = 'checkpoint.json';
const FORMAT = 'weblora-checkpoint';
const VERSION = 1;

export interface SavedCheckpoint {
  train: TrainCheckpoint;
  /** What must be the same to resume (see identity.ts). */
  run: Record<string, unknown>;
  log: LogRecord[];
  /** Wall time of the run so far, so elapsed times continue across a resume. */
  elapsedMs: number;
}

export function checkpointDir(out: string): string {
  return join(out, CHECKPOINT_DIR);
}

/** Synchronous: the checkpoint is complete on disk before training takes another step. */
export function writeCheckpoint(out: string, s: SavedCheckpoint): void {
  const dir = checkpointDir(out);
  mkdirSync(dir, { recursive: true });
  const { step, adapter, optimizer } = s.train;
  const keys = Object.keys(adapter);
  if (optimizer.m.length !== keys.length || optimizer.v.length !== keys.length) {
    throw new Error(`checkpoint: ${optimizer.m.length} optimizer moments for ${keys.length} adapter tensors`);
  }
  const flat = (name: string, data: Float32Array) => ({ name, shape: [data.length], data });
  const tensors = keys.flatMap((k, i) => [flat(`adapter/${k}`, adapter[k]!), flat(`adam_m/${k}`, optimizer.m[i]!), flat(`adam_v/${k}`, optimizer.v[i]!)]);
  const stateFile = `state-${String(step).padStart(6, '0')}.safetensors`;
  writeAtomically(join(dir, stateFile), writeSafetensors(tensors, { format: FORMAT, step: String(step) }));
  const json = {
    format: FORMAT,
    version: VERSION,
    step,
    tensors: stateFile,
    adapter_keys: keys,
    optimizer_step: optimizer.step,
    options: s.train.options,
    losses: s.train.losses,
    elapsed_ms: s.elapsedMs,
    run: s.run,
    log: s.log,
  };
  writeAtomically(join(dir, CHECKPOINT_JSON), JSON.stringify(json, null, 1) + '\n');
  for (const f of readdirSync(dir)) if (isStateFile(f) && f !== stateFile) unlinkSync(join(dir, f));
}

export async function readCheckpoint(out: string): Promise<SavedCheckpoint> {
  const dir = checkpointDir(out);
  const where = join(dir, CHECKPOINT_JSON);
  const text = await readFile(where, 'utf8').catch(() => null);
  if (text === null) {
    throw new Error(`--resume: there is no checkpoint in ${dir} (one is written by --checkpoint-every N, or when Ctrl-C stops a run; a finished run removes its own)`);
  }
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (j.format !== FORMAT || j.version !== VERSION) throw new Error(`${where}: not a version ${VERSION} ${FORMAT} file`);
  const stateFile = join(dir, String(j.tensors));
  const bytes = await readFile(stateFile).catch(() => {
    throw new Error(`${where} names ${stateFile}, which cannot be read`);
  });
  const st = await openSafetensors(bytesSource(stateFile, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
  const keys = j.adapter_keys as string[];
  const read = (name: string) => {
    if (!st.tensors.has(name)) throw new Error(`${stateFile}: tensor "${name}" is missing`);
    return st.readFloat32(name);
  };
  const adapter: Record<string, Float32Array> = {};
  for (const k of keys) adapter[k] = await read(`adapter/${k}`);
  const train: TrainCheckpoint = {
    version: 1,
    step: j.step as number,
    options: j.options as TrainCheckpoint['options'],
    adapter,
    optimizer: {
      step: j.optimizer_step as number,
      m: await Promise.all(keys.map((k) => read(`adam_m/${k}`))),
      v: await Promise.all(keys.map((k) => read(`adam_v/${k}`))),
    },
    losses: j.losses as number[],
  };
  return { train, run: j.run as Record<string, unknown>, log: j.log as LogRecord[], elapsedMs: j.elapsed_ms as number };
}

/** Removes a previous run's checkpoint (only files this module writes), so it cannot be resumed by mistake. */
export function removeCheckpoint(out: string): boolean {
  const dir = checkpointDir(out);
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return false;
  }
  for (const f of files) if (f === CHECKPOINT_JSON || isStateFile(f) || f.endsWith('.tmp')) unlinkSync(join(dir, f));
  try {
    rmdirSync(dir);
  } catch {
    // Something else lives there: leave it.
  }
  return true;
}

function isStateFile(f: string): boolean {
  return /^state-\d+\.safetensors$/.test(f);
}

function writeAtomically(path: string, data: string | Uint8Array): void {
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}
