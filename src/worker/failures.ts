// Any error the engine throws, as an EngineFailure the UI can explain: what happened and what
// to do. Errors cross the Comlink boundary as Error(name = FAILURE_NAME, message = JSON).
import { ModelSourceError } from '../engine/model/source/source-errors';
import { GENERATION_CONFIG, requiredFilesText } from '../engine/model/source/source-types';
import { ConfigError } from '../engine/model/config';
import { SafetensorsError } from '../engine/model/safetensors';
import { DatasetFormatError } from '../engine/data/load';
import { DatasetFileError } from '../engine/data/diagnose';
import { AdapterError } from '../engine/lora/peft';
import { NonFiniteTrainingError } from '../engine/train/non-finite';
import { FAILURE_NAME, type EngineFailure, type ErrorKind } from './api';

export class Failure extends Error {
  constructor(readonly failure: EngineFailure) {
    super(JSON.stringify(failure));
    this.name = FAILURE_NAME;
  }
}

export function fail(kind: ErrorKind, message: string, hint = ''): never {
  throw new Failure({ kind, message, hint });
}

const OOM = /out of memory|\bOOM\b|failed to allocate|allocation failed|exceeds the max(imum)? (buffer|storage)|maxBufferSize|maxStorageBufferBindingSize|Array buffer allocation|Invalid array length|Cannot allocate/i;
const LOST = /device (was )?lost|GPUDevice.*lost|device is lost|context lost/i;

export function toFailure(e: unknown): EngineFailure {
  if (e instanceof Failure) return e.failure;
  const message = e instanceof Error ? e.message : String(e);
  const name = e instanceof Error ? e.name : '';
  if (name === 'AbortError' || /aborted|cancelled/i.test(name)) {
    return { kind: 'cancelled', message: 'Cancelled.', hint: '' };
  }
  if (e instanceof DatasetFileError) {
    // Empty, not text, not JSON...: the message names the file (and lines), the hint the fix.
    return { kind: 'dataset', message: e.what, hint: e.hint };
  }
  if (e instanceof DatasetFormatError) {
    return {
      kind: 'dataset-format',
      message,
      hint: 'Choose the format yourself, or map the columns that hold the prompt and the response.',
      keys: e.keys,
    };
  }
  if (e instanceof ConfigError) {
    return {
      kind: 'unsupported-model',
      message,
      hint: 'WebLoRA runs Llama-family decoders (model_type llama, mistral, qwen2, qwen3) with weights in one model.safetensors.',
    };
  }
  // What to do depends on where the model came from: a hub load gets no folder advice, files no hub advice.
  if (e instanceof ModelSourceError) {
    return {
      kind: 'model-source',
      message,
      hint:
        e.origin === 'hub'
          ? `Check the repo id, the revision and the hub host, and that the repo holds ${requiredFilesText()}.`
          : `Choose the model’s folder, holding ${requiredFilesText()} (${GENERATION_CONFIG} is optional).`,
    };
  }
  if (e instanceof SafetensorsError) {
    return {
      kind: 'model-source',
      message,
      hint: `${e.file} is damaged or not in safetensors format: replace it with an intact copy.`,
    };
  }
  if (e instanceof NonFiniteTrainingError) {
    // The engine's message names the step and the likely causes; the adapter kept is the last finite one.
    return { kind: 'diverged', message: e.message, hint: 'Lower the learning rate (or add warm-up steps) and train again; the adapter keeps its last finite weights.' };
  }
  if (e instanceof AdapterError) {
    return {
      kind: 'bad-adapter',
      message,
      hint: 'Import an adapter_config.json + adapter_model.safetensors pair trained for the model that is loaded now.',
    };
  }
  if (OOM.test(message)) {
    return {
      kind: 'oom',
      message: `Out of memory: ${message}`,
      hint: 'Lower the batch size or the max length, target fewer modules or a smaller rank, or use a smaller model.',
    };
  }
  if (LOST.test(message)) {
    return {
      kind: 'device-lost',
      message: `The GPU device was lost: ${message}`,
      hint: 'The engine restarts itself; load the model again (a saved run resumes from its last checkpoint).',
    };
  }
  return {
    kind: 'internal',
    message,
    hint: 'This was not expected. The browser console has the details; try again, or restart the engine from the backend menu.',
  };
}

export function asThrowable(e: unknown): Error {
  return e instanceof Failure ? e : new Failure(toFailure(e));
}
