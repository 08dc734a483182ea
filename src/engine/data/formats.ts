// Dataset formats: detection from a file's first records, and normalisation of every record to
// a Sample (a conversation, or plain text). A record that does not fit its file's format is a
// bad record with the offending field named; it is reported, never dropped silently.
import type { JsonObject } from './json-record';
import type { Conversation, Sample, Turn } from './types';

export const DATASET_FORMATS = [
  'chat',
  'sharegpt',
  'self-instruct',
  'alpaca',
  'prompt-completion',
  'text',
  'columns',
] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

/** For datasets in no known format, e.g. GSM8K: { prompt: 'question', response: 'answer' }. */
export interface ColumnMapping {
  prompt: string;
  response: string;
  system?: string;
  /** Extra context for the prompt (Alpaca's "input", Dolly's "context"). */
  input?: string;
}

/**
 * Key pairs common enough to map without asking, in order of preference (records in a known
 * format are classified first: instruction/output is Alpaca, prompt/completion its own format).
 * Each is [prompt, response, input?]; `input` and `system` join the mapping when the records have them.
 */
export const COMMON_COLUMNS: readonly ColumnMapping[] = (
  [
    ['question', 'answer'], ['prompt', 'response'], ['instruction', 'response', 'context'], ['input', 'target'],
    ['input', 'output'], ['query', 'response'], ['question', 'response'], ['prompt', 'answer'], ['context', 'response'],
  ] as [string, string, string?][]
).map(([prompt, response, input]) => (input ? { prompt, response, input } : { prompt, response }));

/** "question → answer", with the optional columns: "instruction + context → response". */
export function describeColumns(m: ColumnMapping): string {
  return `${m.system ? `${m.system} / ` : ''}${m.prompt}${m.input ? ` + ${m.input}` : ''} → ${m.response}`;
}

export interface FormatChoice {
  format: DatasetFormat;
  columns?: ColumnMapping;
}

/** The format a single record looks like, by its keys only (types are checked when normalising). */
export function classifyRecord(value: JsonObject): Exclude<DatasetFormat, 'columns'> | null {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(value, k);
  if (has('messages')) return 'chat';
  if (has('conversations')) return 'sharegpt';
  if (has('instruction') && has('instances')) return 'self-instruct';
  if (has('instruction') && has('output')) return 'alpaca';
  if (has('prompt') && has('completion')) return 'prompt-completion';
  if (has('text')) return 'text';
  return null;
}

export interface Detection {
  /** The majority format among the sampled records; null when none looked like a known one. */
  format: DatasetFormat | null;
  votes: Partial<Record<DatasetFormat, number>>;
  sampled: number;
  /** Keys seen in the sampled records, in first-seen order: the choices for a column mapping. */
  keys: string[];
  /** With format 'columns': the common key pair (COMMON_COLUMNS) the records were mapped by. */
  columns?: ColumnMapping;
}

/** Majority vote over the first `sample` records, so one odd record at the top cannot decide. */
export function detectFormat(records: readonly JsonObject[], sample = 64): Detection {
  const votes: Partial<Record<DatasetFormat, number>> = {};
  const keys = new Set<string>();
  const head = records.slice(0, sample);
  // Records in no known format vote for the first common key pair they have.
  const pairVotes = COMMON_COLUMNS.map(() => 0);
  const unknown: JsonObject[] = [];
  for (const r of head) {
    for (const k of Object.keys(r)) keys.add(k);
    const f = classifyRecord(r);
    if (f) votes[f] = (votes[f] ?? 0) + 1;
    else {
      unknown.push(r);
      const pair = COMMON_COLUMNS.findIndex((m) => hasKey(r, m.prompt) && hasKey(r, m.response));
      if (pair >= 0) pairVotes[pair]!++;
    }
  }
  let best = -1;
  pairVotes.forEach((v, i) => {
    if (v > 0 && (best < 0 || v > pairVotes[best]!)) best = i;
  });
  if (best >= 0) votes.columns = pairVotes[best];
  let format: DatasetFormat | null = null;
  for (const f of DATASET_FORMATS) if ((votes[f] ?? 0) > (format ? votes[format]! : 0)) format = f;
  const detection: Detection = { format, votes, sampled: head.length, keys: [...keys] };
  if (format === 'columns') detection.columns = withOptionalColumns(COMMON_COLUMNS[best]!, unknown);
  return detection;
}

function hasKey(r: JsonObject, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(r, k);
}

/** The pair, plus the input and system columns when records that have the pair also have them. */
function withOptionalColumns(pair: ColumnMapping, records: readonly JsonObject[]): ColumnMapping {
  const matching = records.filter((r) => hasKey(r, pair.prompt) && hasKey(r, pair.response));
  const m: ColumnMapping = { prompt: pair.prompt, response: pair.response };
  if (!pair.input && matching.some((r) => hasKey(r, 'input')) && pair.prompt !== 'input') m.input = 'input';
  else if (pair.input && matching.some((r) => hasKey(r, pair.input!))) m.input = pair.input;
  if (matching.some((r) => hasKey(r, 'system'))) m.system = 'system';
  return m;
}

export type Normalized = { ok: true; samples: Sample[]; warnings: string[] } | { ok: false; reason: string };

/** Thrown inside normalisation; becomes the record's reason. */
class RecordError extends Error {}

export function normalizeRecord(value: JsonObject, choice: FormatChoice): Normalized {
  const warnings: string[] = [];
  try {
    return { ok: true, samples: toSamples(value, choice, warnings), warnings };
  } catch (err) {
    if (err instanceof RecordError) return { ok: false, reason: err.message };
    throw err;
  }
}

function toSamples(r: JsonObject, choice: FormatChoice, warnings: string[]): Sample[] {
  switch (choice.format) {
    case 'alpaca':
      return [
        convo(optStr(r, 'system'), [
          userTurn(question(str(r, 'instruction'), 'instruction', warnings, optStr(r, 'input')), optStr(r, 'input')),
          { role: 'assistant', content: answer(str(r, 'output'), 'output') },
        ]),
      ];
    case 'self-instruct': {
      const instruction = str(r, 'instruction');
      const instances = arr(r, 'instances');
      if (instances.length === 0) throw new RecordError('field "instances" is empty');
      return instances.map((inst, i) => {
        const o = obj(inst, `instances[${i}]`);
        const input = optStr(o, 'input', `instances[${i}].`);
        return convo(undefined, [
          userTurn(question(instruction, 'instruction', warnings, input), input),
          { role: 'assistant', content: answer(str(o, 'output', `instances[${i}].`), `instances[${i}].output`) },
        ]);
      });
    }
    case 'prompt-completion': {
      // TRL's conversational variant: prompt and completion are message lists.
      if (Array.isArray(r.prompt) && Array.isArray(r.completion)) {
        return [messagesToSample([...r.prompt, ...r.completion], 'prompt+completion', warnings)];
      }
      return [convo(undefined, [userTurn(question(str(r, 'prompt'), 'prompt', warnings)), { role: 'assistant', content: answer(str(r, 'completion'), 'completion') }])];
    }
    case 'chat':
      return [messagesToSample(arr(r, 'messages'), 'messages', warnings)];
    case 'sharegpt':
      return [shareGptToSample(r, warnings)];
    case 'text':
      return [{ kind: 'text', text: answer(str(r, 'text'), 'text') }];
    case 'columns': {
      const m = choice.columns;
      if (!m) throw new Error('format "columns" needs a column mapping');
      return [
        convo(m.system ? optScalar(r, m.system) : undefined, [
          userTurn(question(scalar(r, m.prompt), m.prompt, warnings, m.input ? optScalar(r, m.input) : undefined), m.input ? optScalar(r, m.input) : undefined),
          { role: 'assistant', content: answer(scalar(r, m.response), m.response) },
        ]),
      ];
    }
  }
}

function convo(system: string | undefined, turns: Turn[]): Sample {
  const conversation: Conversation = system ? { system, turns } : { turns };
  return { kind: 'conversation', conversation };
}

function userTurn(content: string, input?: string): Turn {
  return input ? { role: 'user', content, input } : { role: 'user', content };
}

const CHAT_ROLES: Record<string, 'system' | 'user' | 'assistant'> = {
  system: 'system',
  user: 'user',
  assistant: 'assistant',
};
const SHAREGPT_ROLES: Record<string, 'system' | 'user' | 'assistant'> = {
  system: 'system',
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
};

function messagesToSample(messages: unknown[], field: string, warnings: string[]): Sample {
  const parsed = messages.map((m, i) => {
    const o = obj(m, `${field}[${i}]`);
    const role = str(o, 'role', `${field}[${i}].`);
    const mapped = CHAT_ROLES[role];
    if (!mapped) throw new RecordError(`field "${field}[${i}].role" is "${role}", not one of system, user, assistant`);
    return { role: mapped, content: content(o, 'content', `${field}[${i}].`) };
  });
  return buildConversation(parsed, field, warnings);
}

function shareGptToSample(r: JsonObject, warnings: string[]): Sample {
  const parsed = arr(r, 'conversations').map((m, i) => {
    const o = obj(m, `conversations[${i}]`);
    const from = str(o, 'from', `conversations[${i}].`);
    const mapped = SHAREGPT_ROLES[from];
    if (!mapped) {
      throw new RecordError(`field "conversations[${i}].from" is "${from}", not one of system, human, gpt`);
    }
    return { role: mapped, content: str(o, 'value', `conversations[${i}].`) };
  });
  const system = optStr(r, 'system');
  if (system !== undefined) parsed.unshift({ role: 'system', content: system });
  return buildConversation(parsed, 'conversations', warnings, system === undefined ? 0 : -1);
}

function buildConversation(
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[],
  field: string,
  warnings: string[],
  /** Added to a message's index to name it in the record (-1: a system field was put first). */
  offset = 0,
): Sample {
  let system: string | undefined;
  const turns: Turn[] = [];
  messages.forEach((m, i) => {
    const name = `${field}[${i + offset}].${field === 'conversations' ? 'value' : 'content'}`;
    if (m.role === 'assistant') answer(m.content, name);
    if (m.role === 'user') question(m.content, name, warnings);
    if (m.role !== 'system') turns.push({ role: m.role, content: m.content });
    else if (turns.length > 0) throw new RecordError(`field "${field}[${i}]": a system message is only allowed before the others`);
    else system = system === undefined ? m.content : `${system}\n\n${m.content}`;
  });
  let last = turns.length;
  while (last > 0 && turns[last - 1]!.role !== 'assistant') last--;
  if (last === 0) throw new RecordError(`field "${field}" has no assistant message`);
  // Nothing after the last answer can be trained on; say so rather than drop it quietly.
  if (last < turns.length) warnings.push(`${turns.length - last} message(s) after the last assistant message ignored`);
  return convo(system, turns.slice(0, last));
}

// Empty text. An empty answer would teach the model to stop at once (trained on EOS alone, at
// a loss far above the rest): the record is skipped. An empty question with an answer can be
// meant (an answer to learn unprompted), so it is kept with a warning.

function answer(text: string, field: string): string {
  if (text.trim() === '') throw new RecordError(`field "${field}" is empty${text ? ' (whitespace only)' : ''}: there is nothing to learn from this record`);
  return text;
}

function question(text: string, field: string, warnings: string[], input?: string): string {
  if (text.trim() === '' && !input?.trim()) warnings.push(`field "${field}" is empty: the answer is trained without a question`);
  return text;
}

// Field access: each throws a RecordError naming the field as the user will see it.

function missing(prefix: string, key: string): RecordError {
  return new RecordError(`field "${prefix}${key}" is missing`);
}

function str(o: JsonObject, key: string, prefix = ''): string {
  const v = o[key];
  if (v === undefined || v === null) throw missing(prefix, key);
  if (typeof v !== 'string') throw new RecordError(`field "${prefix}${key}" must be a string`);
  return v;
}

function optStr(o: JsonObject, key: string, prefix = ''): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new RecordError(`field "${prefix}${key}" must be a string`);
  return v;
}

/** Chat content: a string, or OpenAI-style parts of which only text parts are accepted. */
function content(o: JsonObject, key: string, prefix: string): string {
  const v = o[key];
  if (Array.isArray(v)) {
    return v
      .map((p, i) => {
        const part = obj(p, `${prefix}${key}[${i}]`);
        if (part.type !== 'text') throw new RecordError(`field "${prefix}${key}[${i}]" is not a text part`);
        return str(part, 'text', `${prefix}${key}[${i}].`);
      })
      .join('');
  }
  return str(o, key, prefix);
}

/** Column mappings point at arbitrary data, where numbers (e.g. an answer of 42) are fair game. */
function scalar(o: JsonObject, key: string): string {
  const v = o[key];
  if (v === undefined || v === null) throw missing('', key);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v !== 'string') throw new RecordError(`field "${key}" must be a string`);
  return v;
}

function optScalar(o: JsonObject, key: string): string | undefined {
  return o[key] === undefined || o[key] === null ? undefined : scalar(o, key);
}

function arr(o: JsonObject, key: string): unknown[] {
  const v = o[key];
  if (v === undefined || v === null) throw missing('', key);
  if (!Array.isArray(v)) throw new RecordError(`field "${key}" must be an array`);
  return v;
}

function obj(v: unknown, path: string): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RecordError(`field "${path}" must be an object`);
  return v as JsonObject;
}
