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

/** Ctrl-C (SIGINT), or a polite kill (SIGTERM: `kill PID`, a job scheduler, `docker stop`). */
export type StopSignal = 'SIGINT' | 'SIGTERM';

/**
 * Ctrl-C and SIGTERM. A long-running command takes them over to stop cleanly (training stops at
 * a step boundary and checkpoints); when nothing has taken them, or on a second one, the process
 * quits at the next turn of the event loop (every long phase yields to it).
 */
export class Interrupts {
  private handler: ((signal: StopSignal) => void) | null = null;

  /** Until the returned function is called, an interrupt runs `handler` once instead of quitting. */
  take(handler: (signal: StopSignal) => void): () => void {
    this.handler = handler;
    return () => {
      if (this.handler === handler) this.handler = null;
    };
  }

  /** False when nothing took the interrupt, i.e. the caller should quit now. */
  fire(signal: StopSignal = 'SIGINT'): boolean {
    const h = this.handler;
    this.handler = null;
    if (!h) return false;
    h(signal);
    return true;
  }
}
