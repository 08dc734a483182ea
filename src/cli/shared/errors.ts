// The CLI's two kinds of failure. A UsageError is the user's command line (exit 2, with a pointer
// to --help); anything else thrown is a runtime failure (exit 1, one line).

export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** The command whose --help to point at, when there is one. */
    readonly command?: string,
  ) {
    super(message);
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** What a shell reports for a process stopped by SIGINT: scripts can tell "stopped" from "done". */
export const EXIT_INTERRUPTED = 130;
/** The same for SIGTERM (128 + 15). */
export const EXIT_TERMINATED = 143;

export function exitCodeOf(signal: 'SIGINT' | 'SIGTERM'): number {
  return signal === 'SIGTERM' ? EXIT_TERMINATED : EXIT_INTERRUPTED;
}
