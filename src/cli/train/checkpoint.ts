// The CLI's checkpoints: everything Trainer.restore needs to continue exactly where a run stopped.
//
//   OUT/checkpoint/state-NNNNNN.safetensors   adapter/<module>.lora_{A,B}, adam_m/<same>, adam_v/<same>
//                                             (F32, flat; the JSON lists them in the trainer's order)
//   OUT/checkpoint/checkpoint-NNNNNN.json     step, options, losses, tensor names, run identity, log so
//                                             far, the state file's SHA-256, and a checksum of itself
//   OUT/checkpoint/checkpoint.json            the newest of those, renamed into place last
//
// The last K steps are kept (--keep-checkpoints), so a damaged or unwanted one can be rolled back
// with --resume-from STEP. Data order, dropout masks and the schedule are functions of (seed,
// step), so they need no state. Every file is written whole under a temporary name and renamed
// (shared/atomic-write.ts), checkpoint.json last: a run killed while writing, or a full disk,
// leaves the previous checkpoint whole. Reading checks each field's type and both checksums, so a
// flipped bit is refused, naming the file, rather than resumed with other numbers.
import { mkdirSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesSource } from '../../engine/model/byte-source';
import { openSafetensors, writeSafetensors } from '../../engine/model/safetensors';
import type { TrainCheckpoint } from '../../engine/train/trainer';
import { isTempName, writeFileAtomic } from '../shared/atomic-write';
import { describeFsError } from '../shared/fs-errors';
import { DEFAULT_KEEP_CHECKPOINTS } from './args';
import { sha256 } from './identity';
import type { LogRecord } from './log';

export const CHECKPOINT_DIR = 'checkpoint';
const CHECKPOINT_JSON = 'checkpoint.json';
const FORMAT = 'weblora-checkpoint';
const VERSION = 2;

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

const pad = (step: number) => String(step).padStart(6, '0');
const stepJson = (step: number) => `checkpoint-${pad(step)}.json`;
const stateFileOf = (step: number) => `state-${pad(step)}.safetensors`;

/** The steps whose checkpoints are kept in `out`, oldest first. */
export function keptSteps(out: string): number[] {
  let files: string[];
  try {
    files = readdirSync(checkpointDir(out));
  } catch {
    return [];
  }
  return files.flatMap((f) => /^checkpoint-(\d+)\.json$/.exec(f)?.[1] ?? []).map(Number).sort((a, b) => a - b);
}

/**
 * Synchronous: the checkpoint is complete on disk before training takes another step. Keeps the
 * `keep` newest steps; any step after this one belongs to a run resumed from an earlier
 * checkpoint and is removed.
 */
export function writeCheckpoint(out: string, s: SavedCheckpoint, keep = DEFAULT_KEEP_CHECKPOINTS): void {
  const dir = checkpointDir(out);
  const { step, adapter, optimizer } = s.train;
  const keys = Object.keys(adapter);
  if (optimizer.m.length !== keys.length || optimizer.v.length !== keys.length) {
    throw new Error(`checkpoint: ${optimizer.m.length} optimizer moments for ${keys.length} adapter tensors`);
  }
  const flat = (name: string, data: Float32Array) => ({ name, shape: [data.length], data });
  const tensors = keys.flatMap((k, i) => [flat(`adapter/${k}`, adapter[k]!), flat(`adam_m/${k}`, optimizer.m[i]!), flat(`adam_v/${k}`, optimizer.v[i]!)]);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Error(describeFsError('create the folder', dir, e));
  }
  const stateFile = stateFileOf(step);
  const state = writeSafetensors(tensors, { format: FORMAT, step: String(step) });
  writeFileAtomic(join(dir, stateFile), state);
  const body = {
    format: FORMAT,
    version: VERSION,
    step,
    tensors: stateFile,
    tensors_sha256: sha256(state),
    adapter_keys: keys,
    optimizer_step: optimizer.step,
    options: s.train.options,
    losses: s.train.losses,
    elapsed_ms: s.elapsedMs,
    run: s.run,
    log: s.log,
  };
  const text = JSON.stringify({ ...body, checksum: sha256(JSON.stringify(body)) }, null, 1) + '\n';
  writeFileAtomic(join(dir, stepJson(step)), text);
  writeFileAtomic(join(dir, CHECKPOINT_JSON), text);
  const steps = keptSteps(out);
  const older = steps.filter((n) => n < step);
  const drop = [...steps.filter((n) => n > step), ...older.slice(0, Math.max(0, older.length - (keep - 1)))];
  for (const n of drop) {
    removeFile(join(dir, stepJson(n)));
    removeFile(join(dir, stateFileOf(n)));
  }
}

/** The newest checkpoint in `out`, or with `step` that step's (one of the kept ones). */
export async function readCheckpoint(out: string, step?: number): Promise<SavedCheckpoint> {
  const dir = checkpointDir(out);
  const where = join(dir, step === undefined ? CHECKPOINT_JSON : stepJson(step));
  const text = await readFile(where, 'utf8').catch(() => null);
  const kept = keptSteps(out);
  if (text === null) {
    if (step !== undefined) {
      throw new Error(`--resume-from ${step}: ${dir} has no checkpoint of step ${step} (${kept.length ? `kept: steps ${kept.join(', ')}` : 'it holds none'})`);
    }
    throw new Error(`--resume: there is no checkpoint in ${dir} (one is written by --checkpoint-every N, or when Ctrl-C stops a run; a finished run removes its own)`);
  }
  const j = parseCheckpointJson(where, text, rollback(out, kept, step));
  const stateFile = join(dir, j.tensors);
  const bytes = await readFile(stateFile).catch(() => {
    throw new Error(`${where} names ${stateFile}, which cannot be read${rollback(out, kept, j.step)}`);
  });
  if (sha256(bytes) !== j.tensors_sha256) {
    throw new Error(`${stateFile} is damaged: its SHA-256 differs from the one recorded in ${where}${rollback(out, kept, j.step)}`);
  }
  const st = await openSafetensors(bytesSource(stateFile, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
  const read = (name: string) => {
    if (!st.tensors.has(name)) throw new Error(`${stateFile}: tensor "${name}" is missing`);
    return st.readFloat32(name);
  };
  const adapter: Record<string, Float32Array> = {};
  for (const k of j.adapter_keys) adapter[k] = await read(`adapter/${k}`);
  const train: TrainCheckpoint = {
    version: 1,
    step: j.step,
    options: j.options as unknown as TrainCheckpoint['options'],
    adapter,
    optimizer: {
      step: j.optimizer_step,
      m: await Promise.all(j.adapter_keys.map((k) => read(`adam_m/${k}`))),
      v: await Promise.all(j.adapter_keys.map((k) => read(`adam_v/${k}`))),
    },
    losses: j.losses,
  };
  return { train, run: j.run, log: j.log as LogRecord[], elapsedMs: j.elapsed_ms };
}

interface CheckpointJson {
  step: number;
  tensors: string;
  tensors_sha256: string;
  adapter_keys: string[];
  optimizer_step: number;
  options: Record<string, unknown>;
  losses: number[];
  elapsed_ms: number;
  run: Record<string, unknown>;
  log: unknown[];
}

/** Each field checked by type, then the checksum over the rest; every refusal names file and field. */
function parseCheckpointJson(where: string, text: string, orElse: string): CheckpointJson {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not valid JSON (${(e as Error).message})${orElse}`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error(`${where}: not a checkpoint (expected a JSON object, found ${JSON.stringify(j)?.slice(0, 20)})${orElse}`);
  const o = j as Record<string, unknown>;
  if (o.format !== FORMAT || o.version !== VERSION) throw new Error(`${where}: not a version ${VERSION} ${FORMAT} file (field "format" or "version")${orElse}`);
  const field = (name: string, ok: (v: unknown) => boolean, want: string) => {
    if (!ok(o[name])) throw new Error(`${where}: field "${name}" should be ${want}, found ${JSON.stringify(o[name])?.slice(0, 40) ?? 'nothing'}${orElse}`);
  };
  const isObj = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  field('step', isCount, 'a whole number');
  field('tensors', (v) => typeof v === 'string' && /^state-\d+\.safetensors$/.test(v), 'the name of a state-NNNNNN.safetensors file');
  field('tensors_sha256', (v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v), 'a SHA-256 in hex');
  field('adapter_keys', (v) => Array.isArray(v) && v.every((k) => typeof k === 'string'), 'a list of tensor names');
  field('optimizer_step', isCount, 'a whole number');
  field('options', isObj, 'an object');
  field('losses', (v) => Array.isArray(v) && v.every((x) => typeof x === 'number'), 'a list of numbers');
  field('elapsed_ms', (v) => typeof v === 'number' && v >= 0, 'a number of milliseconds');
  field('run', isObj, 'an object');
  field('log', Array.isArray, 'a list');
  field('checksum', (v) => typeof v === 'string', 'a SHA-256 in hex');
  const { checksum, ...body } = o;
  if (sha256(JSON.stringify(body)) !== checksum) {
    throw new Error(`${where} is damaged: its contents do not match its checksum (field "checksum")${orElse}`);
  }
  return o as unknown as CheckpointJson;
}

/** What to do about a damaged checkpoint: the kept earlier steps, or starting over. */
function rollback(out: string, kept: number[], step: number | undefined): string {
  const earlier = step === undefined ? kept.slice(0, -1) : kept.filter((n) => n < step);
  const restart = `delete ${checkpointDir(out)} to start over`;
  if (earlier.length === 0) return `. No earlier checkpoint is kept: ${restart}`;
  return `. Resume from the previous checkpoint instead: --resume-from ${earlier.at(-1)} (kept: steps ${kept.join(', ')}), or ${restart}`;
}

/** Removes a previous run's checkpoints (only files this module writes), so none can be resumed by mistake. */
export function removeCheckpoint(out: string): boolean {
  const dir = checkpointDir(out);
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return false;
  }
  for (const f of files) if (f === CHECKPOINT_JSON || /^checkpoint-\d+\.json$/.test(f) || /^state-\d+\.safetensors$/.test(f) || isTempName(f)) removeFile(join(dir, f));
  try {
    rmdirSync(dir);
  } catch {
    // Something else lives there: leave it.
  }
  return true;
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
