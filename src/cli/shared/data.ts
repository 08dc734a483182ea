// Dataset flags shared by `train` and `eval`, and the data report on stderr.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  DATASET_FORMATS,
  TEXT_TEMPLATES,
  summarizeReport,
  type ColumnMapping,
  type DataFile,
  type DataReport,
  type DatasetFormat,
  type PromptTemplate,
  type TrainOn,
} from '../../engine/data';
import type { Flags, OptionSpec } from './flags';
import type { CliIO } from './io';

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

export const DATA_HELP = `Data:
  --data FILE            JSONL file (or a JSON array file)                      (required)
  --format F             auto | ${DATASET_FORMATS.join(' | ')}        (default auto: detected)
  --columns MAP          column mapping for other layouts, e.g. prompt=question,response=answer
                         (keys prompt, response, system; implies --format columns)
  --template T           auto | chat-template | ${TEXT_TEMPLATES.join(' | ')}
                         (default auto: the tokenizer's chat template, else alpaca)
  --train-on W           responses | all: which tokens the loss counts          (default responses)
  --max-len N            tokens per example; longer ones are truncated and reported (default 256)`;

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
  const map: Partial<Record<'prompt' | 'response' | 'system', string>> = {};
  for (const pair of text.split(',')) {
    const [key, value, ...rest] = pair.split('=').map((s) => s.trim());
    if (!key || !value || rest.length) throw f.error(`--columns: '${pair}' is not key=column`);
    if (key !== 'prompt' && key !== 'response' && key !== 'system') throw f.error(`--columns: unknown key '${key}' (use prompt, response, system)`);
    map[key] = value;
  }
  if (!map.prompt || !map.response) throw f.error('--columns needs at least prompt=COLUMN and response=COLUMN');
  return { prompt: map.prompt, response: map.response, ...(map.system ? { system: map.system } : {}) };
}

/** The file as a stream: a large dataset is parsed as it is read, never held twice. */
export async function openDataFile(path: string): Promise<DataFile> {
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) throw new Error(`data file ${path} does not exist`);
  return { name: path, source: createReadStream(path) };
}

/** Counts, then every bad line as file:line: reason (the first `maxListed` of each kind). */
export function printDataReport(report: DataReport, io: CliIO, fullListWhere?: string, maxListed = 50): void {
  io.stderr(`${summarizeReport(report, maxListed)}\n`);
  const long = [report.issues, report.dropped, report.warnings].some((l) => l.length > maxListed);
  if (long && fullListWhere) io.stderr(`(the full lists are in ${fullListWhere})\n`);
}
