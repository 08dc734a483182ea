// A prepared dataset as the data panel shows it: counts, issue lists (capped), a histogram of
// token lengths, a few examples split into tokens marked trained or masked, and the validation
// prompts the compare panel offers.
import type { TextTokenizer } from '../engine/model/tokenizer';
import type { PreparedDataset } from '../engine/data/pipeline';
import type { LoadedDataset, SourcedSample } from '../engine/data/load';
import type { DataIssue, Sample, TokenizedExample } from '../engine/data/types';
import type { DataCounts } from '../engine/data/report';
import { promptIdsOf } from '../engine/data/tokenize';
import type { DataSummary, Histogram, IssueList, PreviewExample, TokenPiece, ValPrompt } from './api';

const MAX_LISTED = 300;
const PREVIEW = 4;
const MAX_VAL_PROMPTS = 500;

export function issueList(items: readonly DataIssue[]): IssueList {
  return { total: items.length, items: items.slice(0, MAX_LISTED) };
}

export function histogram(lengths: readonly number[], bins = 24): Histogram | null {
  if (lengths.length === 0) return null;
  const sorted = [...lengths].sort((a, b) => a - b);
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  const width = Math.max(1, Math.ceil((max + 1 - min) / bins));
  const n = Math.max(1, Math.ceil((max + 1 - min) / width));
  const edges = Array.from({ length: n + 1 }, (_, i) => min + i * width);
  const counts = new Array<number>(n).fill(0);
  for (const l of lengths) counts[Math.min(n - 1, Math.floor((l - min) / width))]!++;
  const mean = lengths.reduce((s, x) => s + x, 0) / lengths.length;
  return { edges, counts, min, max, median: sorted[Math.floor(sorted.length / 2)]!, mean };
}

/**
 * Each token with the text it adds: decoding growing prefixes keeps the spaces that
 * SentencePiece-style tokenizers drop when a single token is decoded alone.
 */
export function tokenPieces(tok: TextTokenizer, ids: readonly number[], mask: readonly number[]): TokenPiece[] {
  const pieces: TokenPiece[] = [];
  let prev = '';
  for (let i = 0; i < ids.length; i++) {
    const text = tok.decode(ids.slice(0, i + 1) as number[], { skipSpecialTokens: false });
    let piece: string;
    if (text.startsWith(prev)) piece = text.slice(prev.length);
    else piece = tok.decode([ids[i]!], { skipSpecialTokens: false });
    prev = text;
    pieces.push({ text: piece, id: ids[i]!, trained: mask[i] === 1 });
  }
  return pieces;
}

function preview(tok: TextTokenizer, examples: readonly TokenizedExample[]): PreviewExample[] {
  return examples.slice(0, PREVIEW).map((e) => ({
    file: e.file,
    line: e.line,
    tokens: tokenPieces(tok, e.inputIds, e.lossMask),
    truncated: e.truncated,
  }));
}

function describeSample(sample: Sample | undefined): { instruction: string; reference: string } | null {
  if (!sample) return null;
  if (sample.kind === 'text') return null;
  const turns = sample.conversation.turns;
  const lastUser = [...turns].reverse().find((t) => t.role === 'user');
  const lastAnswer = [...turns].reverse().find((t) => t.role === 'assistant');
  const instruction = lastUser ? (lastUser.input ? `${lastUser.content}\n\n${lastUser.input}` : lastUser.content) : '';
  return { instruction, reference: lastAnswer?.content ?? '' };
}

export function valPrompts(tok: TextTokenizer, val: readonly TokenizedExample[], samples: readonly SourcedSample[]): ValPrompt[] {
  const byPlace = new Map<string, Sample>();
  for (const s of samples) {
    const key = `${s.file}\n${s.line}`;
    if (!byPlace.has(key)) byPlace.set(key, s.sample);
  }
  return val.slice(0, MAX_VAL_PROMPTS).map((e, index) => {
    const d = describeSample(byPlace.get(`${e.file}\n${e.line}`));
    if (d) return { index, line: e.line, ...d };
    const prompt = promptIdsOf(e);
    return {
      index,
      line: e.line,
      instruction: tok.decode(prompt, { skipSpecialTokens: true }),
      reference: tok.decode(e.inputIds.slice(prompt.length), { skipSpecialTokens: true }),
    };
  });
}

export function summarize(
  name: string,
  tok: TextTokenizer,
  prepared: PreparedDataset,
  loaded: LoadedDataset,
  prepareMs: number,
): DataSummary {
  const r = prepared.report;
  return {
    name,
    tokenized: true,
    files: r.files,
    counts: r.counts,
    template: prepared.template,
    issues: issueList(r.issues),
    dropped: issueList(r.dropped),
    truncated: issueList(r.truncated),
    warnings: issueList(r.warnings),
    histogram: histogram(r.lengths),
    preview: preview(tok, prepared.train.length ? prepared.train : prepared.val),
    valPrompts: valPrompts(tok, prepared.val, loaded.samples),
    prepareMs,
  };
}

/** Before a model is loaded: what can be known without a tokenizer. */
export function summarizeLoaded(name: string, loaded: LoadedDataset, prepareMs: number): DataSummary {
  const good = loaded.files.reduce((s, f) => s + f.good, 0);
  const records = loaded.files.reduce((s, f) => s + f.records, 0);
  const counts: DataCounts = {
    records,
    good,
    bad: records - good,
    examples: loaded.samples.length,
    truncated: 0,
    dropped: 0,
    train: 0,
    val: 0,
    tokens: 0,
    trainedTokens: 0,
  };
  return {
    name,
    tokenized: false,
    files: loaded.files,
    counts,
    template: null,
    issues: issueList(loaded.issues),
    dropped: issueList([]),
    truncated: issueList([]),
    warnings: issueList(loaded.warnings),
    histogram: null,
    preview: [],
    valPrompts: [],
    prepareMs,
  };
}
