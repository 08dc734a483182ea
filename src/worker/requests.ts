// What the UI asks for, in the engine's terms: a prompt spec as token ids, sampling settings as
// generation options, a train config as Trainer options, a checkpoint's buffers for transfer.
import type { Session } from '../engine/session';
import type { PreparedDataset } from '../engine/data/pipeline';
import { encodePrompt, promptIdsOf } from '../engine/data/tokenize';
import { resolveTemplate } from '../engine/data/template';
import type { TrainOptions } from '../engine/train/trainer';
import { fail } from './failures';
import type { LoadOptions } from '../engine/data/load';
import type { PrepareOptions } from '../engine/data/pipeline';
import type { DataOptions, ExportedFile, PromptSpec, SamplingSettings, TrainConfig } from './api';

export function promptIds(spec: PromptSpec, s: Session, prepared: PreparedDataset | null): number[] {
  if (spec.kind === 'validation') {
    const ex = prepared?.val[spec.index];
    if (!ex) fail('not-ready', `There is no validation example #${spec.index + 1}.`, 'Prepare the dataset again.');
    return promptIdsOf(ex);
  }
  if (!spec.text.trim()) fail('not-ready', 'The prompt is empty.', 'Type a prompt or pick a validation example.');
  if (spec.kind === 'raw') return s.tokenizer.encode(spec.text);
  const template = prepared?.template ?? resolveTemplate('auto', s.tokenizer);
  return encodePrompt({ turns: [{ role: 'user', content: spec.text }] }, s.tokenizer, template);
}

export function samplingOptions(s: SamplingSettings) {
  return {
    maxNewTokens: s.maxNewTokens,
    temperature: s.greedy ? 0 : s.temperature,
    topP: s.topP,
    topK: s.topK,
    repetitionPenalty: s.repetitionPenalty,
    seed: s.seed,
  };
}

/** The Trainer's options: the config's training settings, with the dataset's max length. */
export function trainOptions(cfg: TrainConfig, maxLength: number): Omit<TrainOptions, 'padId'> {
  const { lora: _lora, init: _init, evalBase: _evalBase, ...settings } = cfg;
  return { ...settings, maxLength };
}

export async function sha256(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const digest = await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** How the dataset is read: the format the user chose, or detection. */
export function loadOptions(opts: DataOptions): LoadOptions {
  return {
    ...(opts.format !== 'auto' ? { format: opts.format } : {}),
    ...(opts.format === 'columns' && opts.columns ? { columns: opts.columns } : {}),
  };
}

export function prepareOptions(opts: DataOptions, onProgress?: (done: number, total: number) => void): PrepareOptions {
  const { format: _format, columns: _columns, ...rest } = opts;
  return { ...loadOptions(opts), ...rest, ...(onProgress ? { onProgress } : {}) };
}

export function fileBytes(files: Record<string, string | Uint8Array>): ExportedFile[] {
  return Object.entries(files).map(([name, content]) => ({ name, bytes: typeof content === 'string' ? new TextEncoder().encode(content) : content }));
}
