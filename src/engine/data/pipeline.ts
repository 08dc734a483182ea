// The one call the trainer and the UI make: files + tokenizer -> train/validation examples and
// a report. Batching stays separate (batches.ts) because it is redone every epoch with a new seed.
import type { TextTokenizer } from '../model/tokenizer';
import { buildExamplesAsync } from './examples';
import { loadDataset, type DataFile, type LoadedDataset, type LoadOptions } from './load';
import type { DataReport } from './report';
import { splitTrainVal } from './split';
import { resolveTemplate, type PromptTemplate } from './template';
import type { TrainOn } from './tokenize';
import type { TokenizedExample } from './types';

export interface PrepareOptions extends LoadOptions {
  maxLength: number;
  /** Default 'auto': the tokenizer's chat template when it has one, else 'alpaca'. */
  template?: 'auto' | PromptTemplate;
  /** Default 'responses'. */
  trainOn?: TrainOn;
  /** See ExampleOptions.appendEos; default automatic. */
  appendEos?: boolean;
  /** Validation share or count (count wins); default none. Split by source record. */
  valFraction?: number;
  valCount?: number;
  /** Seed of the split; default 0. */
  seed?: number;
  /** Tokenization progress, in samples. */
  onProgress?: (done: number, total: number) => void;
  /** Aborting it stops reading or tokenizing within a few dozen records (rejects with an AbortError). */
  signal?: AbortSignal;
}

export interface PreparedDataset {
  train: TokenizedExample[];
  val: TokenizedExample[];
  template: PromptTemplate;
  report: DataReport;
}

export async function prepareDataset(
  files: DataFile | readonly DataFile[],
  tok: TextTokenizer,
  opts: PrepareOptions,
): Promise<PreparedDataset> {
  return prepareLoaded(await loadDataset(files, opts), tok, opts);
}

/** prepareDataset for samples already read (a job export needs the samples and the split both). */
export async function prepareLoaded(loaded: LoadedDataset, tok: TextTokenizer, opts: PrepareOptions): Promise<PreparedDataset> {
  const template = resolveTemplate(opts.template ?? 'auto', tok);
  const built = await buildExamplesAsync(loaded.samples, tok, {
    template,
    maxLength: opts.maxLength,
    trainOn: opts.trainOn ?? 'responses',
    ...(opts.appendEos === undefined ? {} : { appendEos: opts.appendEos }),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const { train, val } = splitTrainVal(
    built.examples,
    {
      seed: opts.seed ?? 0,
      ...(opts.valFraction === undefined ? {} : { valFraction: opts.valFraction }),
      ...(opts.valCount === undefined ? {} : { valCount: opts.valCount }),
    },
    (e) => `${e.file}\n${e.line}`,
  );
  let tokens = 0;
  let trainedTokens = 0;
  for (const e of built.examples) {
    tokens += e.inputIds.length;
    for (const m of e.lossMask) trainedTokens += m;
  }
  const good = loaded.files.reduce((s, f) => s + f.good, 0);
  const records = loaded.files.reduce((s, f) => s + f.records, 0);
  const report: DataReport = {
    files: loaded.files,
    template,
    counts: {
      records,
      good,
      bad: records - good,
      examples: loaded.samples.length,
      truncated: built.truncated.length,
      dropped: built.dropped.length,
      train: train.length,
      val: val.length,
      tokens,
      trainedTokens,
    },
    issues: loaded.issues,
    dropped: built.dropped,
    truncated: built.truncated,
    warnings: [...loaded.warnings, ...built.warnings],
    lengths: built.lengths,
  };
  return { train, val, template, report };
}
