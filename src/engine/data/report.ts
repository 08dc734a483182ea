// The summary of a prepared dataset, for the data panel and the CLI.
import { describeColumns } from './formats';
import type { FileReport } from './load';
import type { PromptTemplate } from './template';
import type { DataIssue } from './types';

export interface DataCounts {
  /** Records read (non-blank lines or array elements): good + bad. */
  records: number;
  good: number;
  bad: number;
  /** Samples tokenized (self-instruct makes several per record). */
  examples: number;
  truncated: number;
  /** Examples excluded after tokenization (see DataReport.dropped). */
  dropped: number;
  train: number;
  val: number;
  /** Tokens and trained targets over the kept examples. */
  tokens: number;
  trainedTokens: number;
}

export interface DataReport {
  files: FileReport[];
  template: PromptTemplate;
  counts: DataCounts;
  /** Bad lines and records, skipped. */
  issues: DataIssue[];
  /** Examples excluded from training, with the reason. */
  dropped: DataIssue[];
  /** Examples cut to maxLength (still trained on). */
  truncated: DataIssue[];
  warnings: DataIssue[];
  /** Token length of every tokenized example before truncation, in order (for a histogram). */
  lengths: number[];
}

/** "train.jsonl:7: field "output" is missing"; line 0 means the file as a whole. */
export function formatIssue(issue: DataIssue): string {
  return issue.line > 0 ? `${issue.file}:${issue.line}: ${issue.reason}` : `${issue.file}: ${issue.reason}`;
}

/** A few lines of text for a terminal or a log. */
export function summarizeReport(r: DataReport, maxListed = 10): string {
  const c = r.counts;
  const lines = [
    ...r.files.map((f) => `${f.file}: ${f.container}, format ${f.format}${f.columns ? ` ${describeColumns(f.columns)}` : ''}${f.detected ? ' (detected)' : ''}, ${f.good}/${f.records} records good`),
    `template ${r.template}; ${c.examples} examples, ${c.truncated} truncated, ${c.dropped} dropped; train ${c.train}, val ${c.val}; ${c.trainedTokens}/${c.tokens} tokens trained`,
  ];
  const list = (title: string, items: DataIssue[]) => {
    if (items.length === 0) return;
    lines.push(`${title} (${items.length}):`);
    for (const i of items.slice(0, maxListed)) lines.push(`  ${formatIssue(i)}`);
    if (items.length > maxListed) lines.push(`  ... and ${items.length - maxListed} more`);
  };
  list('bad records, skipped', r.issues);
  list('examples dropped', r.dropped);
  list('warnings', r.warnings);
  return lines.join('\n');
}
