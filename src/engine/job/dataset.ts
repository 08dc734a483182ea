// The dataset as WebLoRA read it, for the job: every good record's sample(s) as one JSONL line in
// the conversational format (TRL's "messages"; plain text as {"text"}), with the split WebLoRA
// gave its source record and where it came from. Alpaca's "input" stays a key of its user
// message, because the Alpaca template renders it in a section of its own.
import type { SourcedSample } from '../data/load';
import type { TokenizedExample } from '../data/types';

export type JobSplit = 'train' | 'val';

export interface JobMessage {
  role: string;
  content: string;
  input?: string;
}

export type JobRecord = ({ messages: JobMessage[] } | { text: string }) & { split: JobSplit; source: { file: string; line: number } };

const groupKey = (file: string, line: number) => `${file}\n${line}`;

/** WebLoRA splits by source record, so a record's samples all land where its examples did. */
export function jobRecords(samples: readonly SourcedSample[], val: readonly Pick<TokenizedExample, 'file' | 'line'>[]): JobRecord[] {
  const inVal = new Set(val.map((e) => groupKey(e.file, e.line)));
  return samples.map(({ file, line, sample }) => {
    const split: JobSplit = inVal.has(groupKey(file, line)) ? 'val' : 'train';
    const source = { file, line };
    if (sample.kind === 'text') return { text: sample.text, split, source };
    const c = sample.conversation;
    const messages: JobMessage[] = c.system ? [{ role: 'system', content: c.system }] : [];
    for (const t of c.turns) messages.push(t.input ? { role: t.role, content: t.content, input: t.input } : { role: t.role, content: t.content });
    return { messages, split, source };
  });
}

export function jsonl(records: readonly unknown[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}
