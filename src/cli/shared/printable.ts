// Text from a dataset or a model, made safe to print on a terminal. Such text can hold escape
// sequences (ESC [ … m colours, ESC ] … BEL window titles, cursor moves, a clear screen) that a
// terminal would obey rather than show; every control character is shown escaped instead, as
// JavaScript writes it: \x1b, \x07, \u009b. Bidirectional overrides are escaped too, since
// they reorder what is shown.

// C0 controls, DEL, C1 controls, and the bidi embedding/override/isolate characters.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// The same, but leaving newline and tab: for multi-line text (a report, generated text).
const CONTROL_BUT_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escape(c: string): string {
  const code = c.charCodeAt(0);
  return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

/** One line's worth: a key, a role, a name, a preview. Newlines are escaped too. */
export function printable(text: string): string {
  return text.replace(CONTROL, escape);
}

/** Several lines (a report, generated text): newlines and tabs kept, every other control escaped. */
export function printableLines(text: string): string {
  return text.replace(CONTROL_BUT_LAYOUT, escape);
}
