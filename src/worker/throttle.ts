// Batches frequent messages to the UI thread: at most one postMessage per interval, but
// urgent items (and everything before them) go at once, in order.
export class Pump<T> {
  private buffer: T[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly send: (items: T[]) => unknown,
    private readonly intervalMs = 120,
  ) {}

  push(item: T, urgent = false): void {
    this.buffer.push(item);
    if (urgent) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.buffer.length === 0) return;
    const items = this.buffer;
    this.buffer = [];
    // A proxy call returns a promise; a UI that went away must not crash the worker.
    Promise.resolve(this.send(items)).catch(() => {});
  }
}

/** Calls `fn` at most once per interval with the latest value; `force` sends now. */
export function latest<T>(fn: (v: T) => unknown, intervalMs = 100): (v: T, force?: boolean) => void {
  let last = 0;
  let pending: T | undefined;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const send = () => {
    timer = null;
    last = performance.now();
    const v = pending as T;
    pending = undefined;
    Promise.resolve(fn(v)).catch(() => {});
  };
  return (v, force = false) => {
    pending = v;
    const wait = intervalMs - (performance.now() - last);
    if (force || wait <= 0) {
      if (timer) clearTimeout(timer);
      send();
    } else timer ??= setTimeout(send, wait);
  };
}
