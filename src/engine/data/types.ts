// Shared shapes of the data pipeline. Every stage reports problems as DataIssue so the
// UI and CLI can show one list with file and line: nothing is ever dropped silently.

/** A problem tied to a place in an input file. `line` is 1-based (0 = the file as a whole). */
export interface DataIssue {
  file: string;
  line: number;
  reason: string;
}

export type Role = 'user' | 'assistant';

export interface Turn {
  role: Role;
  content: string;
  /**
   * Alpaca's optional "input" on a user turn. Kept apart from `content` so the Alpaca
   * template can render its own `### Input:` section; every other template joins it to the
   * content with a blank line.
   */
  input?: string;
}

export interface Conversation {
  system?: string;
  turns: Turn[];
}

/** One normalised training sample: a conversation, or plain text trained on every token. */
export type Sample = { kind: 'conversation'; conversation: Conversation } | { kind: 'text'; text: string };

/**
 * A tokenized example. Labels are the next token: position t predicts inputIds[t + 1].
 * lossMask[t] = 1 means token t is a trained *target*, i.e. the loss of position t - 1 counts;
 * lossMask[0] is therefore always 0 (nothing predicts the first token).
 */
export interface TokenizedExample {
  inputIds: number[];
  lossMask: number[];
  /** Cut to maxLength; the tail (usually including EOS) was lost. */
  truncated: boolean;
  file: string;
  line: number;
}
