// One JSON text that must be an object: the unit both the JSONL and the JSON-array readers emit.

export type JsonObject = Record<string, unknown>;

export interface JsonRecord {
  /** 1-based line of the record (of its first character, in a JSON array file). */
  line: number;
  value: JsonObject;
}

export type JsonlEvent = ({ type: 'record' } & JsonRecord) | { type: 'issue'; line: number; reason: string };

export function parseRecord(text: string, line: number): JsonlEvent {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { type: 'issue', line, reason: `not valid JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { type: 'issue', line, reason: `expected a JSON object, got ${describe(value)}` };
  }
  return { type: 'record', line, value: value as JsonObject };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

