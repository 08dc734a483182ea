// A training config file read back: the "Training config (JSON)" the Export panel writes, or a
// bare settings object. Every field is checked against the type and range the Train panel allows;
// a bad one is named with what was expected, and unknown fields are listed rather than dropped
// silently.
import type { TrainConfig } from '../../worker/api';

type Check = (v: unknown) => boolean;
const num = (min: number, max = Infinity, integer = false): Check => (v) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max && (!integer || Number.isInteger(v));
const oneOf = (...values: unknown[]): Check => (v) => values.includes(v);
const bool: Check = (v) => typeof v === 'boolean';

const FIELDS: Record<Exclude<keyof TrainConfig, 'lora'>, [Check, string]> = {
  init: [oneOf('new', 'current'), '"new" or "current"'],
  learningRate: [num(Number.MIN_VALUE, 1), 'a number above 0, at most 1'],
  epochs: [num(1, 1000, true), 'a whole number from 1'],
  maxSteps: [num(0, 1e7, true), 'a whole number from 0 (0: no limit)'],
  batchSize: [num(1, 4096, true), 'a whole number from 1'],
  gradAccum: [num(1, 4096, true), 'a whole number from 1'],
  warmupSteps: [num(0, 1e7, true), 'a whole number from 0'],
  schedule: [oneOf('cosine', 'linear', 'constant'), '"cosine", "linear" or "constant"'],
  weightDecay: [num(0, 10), 'a number from 0'],
  maxGradNorm: [num(0, 1e6), 'a number from 0 (0: no clipping)'],
  evalEvery: [num(0, 1e7, true), 'a whole number from 0'],
  checkpointEvery: [num(0, 1e7, true), 'a whole number from 0'],
  seed: [num(0, 2 ** 31, true), 'a whole number from 0'],
  shuffle: [bool, 'true or false'],
  evalBase: [bool, 'true or false'],
};

// PEFT's per-module patterns come with imported adapters, not from the training form or its files.
const LORA_FIELDS: Record<Exclude<keyof TrainConfig['lora'], 'rankPattern' | 'alphaPattern' | 'layersToTransform' | 'layersPattern'>, [Check, string]> = {
  r: [num(1, 4096, true), 'a whole number from 1'],
  alpha: [num(Number.MIN_VALUE, 1e6), 'a number above 0'],
  dropout: [num(0, 0.999), 'a number from 0, below 1'],
  useRslora: [bool, 'true or false'],
  targetModules: [(v) => Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === 'string' && m.length > 0), 'a non-empty list of module names'],
};

export class ConfigFileError extends Error {}

/** The settings in `text` over `base`: every field the file gives, checked. */
export function readTrainingConfig(text: string, fileName: string, base: TrainConfig): { config: TrainConfig; ignored: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigFileError(`${fileName} is not JSON (${(e as Error).message}).`);
  }
  const root = json as Record<string, unknown> | null;
  const settings = root && typeof root === 'object' && root.training && typeof root.training === 'object' ? root.training : root;
  if (!settings || typeof settings !== 'object' || Array.isArray(settings)) {
    throw new ConfigFileError(`${fileName} holds no training settings: expected an object, or the "training" object of an exported training config.`);
  }
  const errors: string[] = [];
  const ignored: string[] = [];
  const config: TrainConfig = structuredClone(base);
  const out = config as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(settings)) {
    if (key === 'lora') continue;
    const rule = FIELDS[key as keyof typeof FIELDS];
    if (!rule) ignored.push(key);
    else if (!rule[0](value)) errors.push(`"${key}" is ${JSON.stringify(value)}; expected ${rule[1]}`);
    else out[key] = value;
  }
  const lora = (settings as Record<string, unknown>).lora;
  if (lora !== undefined) {
    if (!lora || typeof lora !== 'object' || Array.isArray(lora)) errors.push('"lora" must be an object');
    else {
      for (const [key, value] of Object.entries(lora)) {
        const rule = LORA_FIELDS[key as keyof typeof LORA_FIELDS];
        if (!rule) ignored.push(`lora.${key}`);
        else if (!rule[0](value)) errors.push(`"lora.${key}" is ${JSON.stringify(value)}; expected ${rule[1]}`);
        else (config.lora as unknown as Record<string, unknown>)[key] = Array.isArray(value) ? [...value] : value;
      }
    }
  }
  if (errors.length) throw new ConfigFileError(`${fileName}: ${errors.join('; ')}. Nothing was changed.`);
  return { config, ignored };
}
