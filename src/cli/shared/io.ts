// Where a command writes and what it can be told while running. Commands never touch `process`
// directly, so tests run them in-process with captured output and a hand-fired Ctrl-C.

export interface CliIO {
  /** Results: generated text, progress lines, reports meant to be piped. */
  stdout(text: string): void;
  /** Status, warnings and errors. */
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  interrupts: Interrupts;
}

/**
 * Ctrl-C. A long-running command takes it over to stop cleanly (training stops at a step
 * boundary and checkpoints); when nothing has taken it, or on a second Ctrl-C, the process quits.
 */
export class Interrupts {
  private handler: (() => void) | null = null;

  /** Until the returned function is called, an interrupt runs `handler` once instead of quitting. */
  take(handler: () => void): () => void {
    this.handler = handler;
    return () => {
      if (this.handler === handler) this.handler = null;
    };
  }

  /** False when nothing took the interrupt, i.e. the caller should quit now. */
  fire(): boolean {
    const h = this.handler;
    this.handler = null;
    if (!h) return false;
    h();
    return true;
  }
}
