// Dataset flags shared by `train` and `eval`, and the data report on stderr.
import { constants, createReadStream } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import {
  DATASET_FORMATS,
  DatasetFormatError,
  TEXT_TEMPLATES,
  summarizeReport,
  type ColumnMapping,
  type DataFile,
  type DataReport,
  type DatasetFormat,
  type PrepareOptions,
  type PreparedDataset,
  type PromptTemplate,
  type TrainOn,
} from '../../engine/data';
import type { Session } from '../../engine/session';
import type { Flags, OptionSpec } from './flags';
import type { HelpRow } from './help';
import { describeFsError } from './fs-errors';
import type { CliIO } from './io';
import { printable, printableLines } from './printable';

export const FORMAT_CHOICES = ['auto', ...DATASET_FORMATS] as const;
export const TEMPLATE_CHOICES = ['auto', 'chat-template', ...TEXT_TEMPLATES] as const;
export type TemplateChoice = (typeof TEMPLATE_CHOICES)[number];

export const DATA_OPTIONS: OptionSpec = {
  data: { type: 'string' },
  format: { type: 'string' },
  columns: { type: 'string' },
  template: { type: 'string' },
  'train-on': { type: 'string' },
  'max-len': { type: 'string' },
};

export const DATA_ROWS: readonly HelpRow[] = [
  ['--data FILE', 'JSONL file, or a JSON array file (required). Bad records are\nreported by line and skipped, empty answers included (they would\nteach the model only to stop); empty questions are kept, with a warning'],
  ['--format F', `auto (the default: detected from the records), or one of\n${DATASET_FORMATS.join(' | ')}`],
  ['--columns MAP', 'map other layouts, e.g. prompt=problem,response=solution\n(keys prompt, response, input, system; implies --format columns;\ncommon pairs such as question/answer are mapped without it)'],
  ['--template T', `auto | chat-template | ${TEXT_TEMPLATES.join(' | ')}\n(default auto: the tokenizer's chat template, else alpaca)`],
  ['--train-on W', 'responses | all: the tokens the loss counts (default responses)'],
  ['--max-len N', 'tokens per example; longer ones are cut and reported (default 256)'],
];

export interface DataArgs {
  path: string;
  /** Undefined: detect per file. */
  format?: DatasetFormat;
  columns?: ColumnMapping;
  template: 'auto' | PromptTemplate;
  trainOn: TrainOn;
  maxLength: number;
}

export function parseDataArgs(f: Flags, defaultMaxLength = 256): DataArgs {
  const format = f.choice('format', FORMAT_CHOICES, 'auto');
  const columns = f.has('columns') ? parseColumns(f, f.required('columns')) : undefined;
  if (format === 'columns' && !columns) throw f.error('--format columns needs --columns, e.g. --columns prompt=question,response=answer');
  if (columns && format !== 'auto' && format !== 'columns') throw f.error(`--columns only applies to --format columns, not ${format}`);
  return {
    path: f.required('data'),
    ...(format === 'auto' ? (columns ? { format: 'columns' as const } : {}) : { format }),
    ...(columns ? { columns } : {}),
    template: f.choice('template', TEMPLATE_CHOICES, 'auto'),
    trainOn: f.choice('train-on', ['responses', 'all'] as const, 'responses'),
    maxLength: f.int('max-len', defaultMaxLength, { min: 2 }),
  };
}

function parseColumns(f: Flags, text: string): ColumnMapping {
  const map: Partial<Record<'prompt' | 'response' | 'input' | 'system', string>> = {};
  for (const pair of text.split(',')) {
    const [key, value, ...rest] = pair.split('=').map((s) => s.trim());
    if (!key || !value || rest.length) throw f.error(`--columns: '${pair}' is not key=column`);
    if (key !== 'prompt' && key !== 'response' && key !== 'input' && key !== 'system') throw f.error(`--columns: unknown key '${key}' (use prompt, response, input, system)`);
    map[key] = value;
  }
  if (!map.prompt || !map.response) throw f.error('--columns needs at least prompt=COLUMN and response=COLUMN');
  return { prompt: map.prompt, response: map.response, ...(map.input ? { input: map.input } : {}), ...(map.system ? { system: map.system } : {}) };
}

/** The file as a stream: a large dataset is parsed as it is read, never held twice. */
export async function openDataFile(path: string): Promise<DataFile> {
  await checkDataFile(path);
  return { name: path, source: createReadStream(path) };
}

/** Refuses what cannot be a dataset before any work, saying what it is instead. */
export async function checkDataFile(path: string): Promise<void> {
  const info = await stat(path).catch((e: unknown) => e as NodeJS.ErrnoException);
  if (info instanceof Error) {
    if (info.code === 'ENOENT') throw new Error(`data file ${path} does not exist: check the --data path`);
    throw new Error(`--data: ${describeFsError('read', path, info)}`);
  }
  if (info.isDirectory()) throw new Error(`--data ${path} is a folder, not a file: give the dataset file in it (JSON Lines or a JSON array, e.g. ${path.replace(/\/+$/, '')}/train.jsonl)`);
  if (!info.isFile()) {
    const what = info.isCharacterDevice() || info.isBlockDevice() ? 'a device' : info.isFIFO() ? 'a pipe' : info.isSocket() ? 'a socket' : 'not a regular file';
    // Training reads the file twice (its hash for --resume, then its records): a stream cannot be.
    throw new Error(`--data ${path} is ${what}, not a file: save the dataset to a file (JSON Lines) and give that`);
  }
  try {
    await access(path, constants.R_OK);
  } catch (e) {
    throw new Error(`--data: ${describeFsError('read', path, e)}`);
  }
}

const KNOWN_FIELDS = 'instruction+output, messages, conversations, prompt+completion, text, or a pair such as question+answer';

/** The engine's options for reading and tokenizing the --data file as the flags say. */
export function prepareOptionsOf(d: DataArgs, extra: { seed?: number; valFraction?: number } = {}): PrepareOptions {
  return {
    maxLength: d.maxLength,
    template: d.template,
    trainOn: d.trainOn,
    ...(d.format ? { format: d.format } : {}),
    ...(d.columns ? { columns: d.columns } : {}),
    ...(extra.seed === undefined ? {} : { seed: extra.seed }),
    ...(extra.valFraction === undefined ? {} : { valFraction: extra.valFraction }),
  };
}

/** Reads, checks and tokenizes the --data file as the flags say. */
export async function prepareData(
  session: Session,
  d: DataArgs,
  extra: { seed?: number; valFraction?: number; io?: CliIO; signal?: AbortSignal } = {},
): Promise<PreparedDataset> {
  try {
    return await session.prepareData(await openDataFile(d.path), {
      ...(extra.io ? { onProgress: tokenizingProgress(extra.io) } : {}),
      ...(extra.signal ? { signal: extra.signal } : {}),
      ...prepareOptionsOf(d, extra),
    });
  } catch (e) {
    throw withFlagAdvice(e);
  }
}

/** A dataset whose format was not found, told in terms of the command line (--columns). */
export function withFlagAdvice(e: unknown): unknown {
  if (!(e instanceof DatasetFormatError)) return e;
  // The engine's message suggests a mapping object; on the command line that is --columns.
  const [prompt = 'COLUMN', response = 'COLUMN'] = e.keys.map(printable);
  const lines = e.records.map((r) => `${e.file}:${r.line}: keys ${r.keys.length ? r.keys.map((k) => `"${printable(k)}"`).join(', ') : '(none)'}`);
  const more = e.total > e.records.length ? ` (and ${e.total - e.records.length} more)` : '';
  return new Error(
    `${e.file}: no record is usable: none has the fields of a known format (${KNOWN_FIELDS}): ${lines.join('; ')}${more}. ` +
      `Fix those lines, or name the columns, e.g. --columns prompt=${prompt},response=${response}`,
  );
}

/**
 * "tokenizing: 12,288 of 50,000 samples" on stderr every few seconds, once tokenizing has taken
 * a while: a large file is minutes of work that should not look like a hang.
 */
export function tokenizingProgress(io: CliIO, everyMs = 3000): (done: number, total: number) => void {
  const started = Date.now();
  let last = started;
  let printed = false;
  return (done, total) => {
    const now = Date.now();
    if (done < total ? now - last < everyMs : !printed) return;
    last = now;
    printed = true;
    io.stderr(`tokenizing: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} samples (${((now - started) / 1000).toFixed(0)} s)\n`);
  };
}

/** Counts, then every bad line as file:line: reason (the first `maxListed` of each kind). */
export function printDataReport(report: DataReport, io: CliIO, fullListWhere?: string, maxListed = 50): void {
  // Keys, roles and text from the file are in it: shown with their control characters escaped.
  io.stderr(`${printableLines(summarizeReport(report, maxListed))}\n`);
  const long = [report.issues, report.dropped, report.warnings].some((l) => l.length > maxListed);
  if (long && fullListWhere) io.stderr(`(the full lists are in ${fullListWhere})\n`);
}
