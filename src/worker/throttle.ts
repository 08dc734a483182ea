// Batches frequent messages to the UI thread: at most one postMessage per interval, urgent
// items (and everything before them) as soon as possible — and never out of order.
//
// Each send is a Comlink proxy call on its own MessagePort, while an RPC's result travels on
// the worker's port: nothing orders the two. So only one send is in flight at a time (the next
// waits for the UI's acknowledgement), and `drain()` resolves once the UI has handled every item;
// an operation awaits it before it returns, so its result can never overtake its events.
export class Pump<T> {
  private buffer: T[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly send: (items: T[]) => unknown,
    private readonly intervalMs = 120,
  ) {}

  push(item: T, urgent = false): void {
    this.buffer.push(item);
    if (urgent) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  /** Sends what is buffered now, or as soon as the send in flight is acknowledged. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inFlight || this.buffer.length === 0) return;
    const items = this.buffer;
    this.buffer = [];
    // A UI that went away must not crash the worker: a failed send counts as delivered.
    this.inFlight = Promise.resolve()
      .then(() => this.send(items))
      .then(
        () => {},
        () => {},
      )
      .then(() => {
        this.inFlight = null;
        if (this.buffer.length > 0) this.flush();
      });
  }

  /** Resolves when everything pushed so far has been handled by the receiver. */
  async drain(): Promise<void> {
    this.flush();
    while (this.inFlight) {
      await this.inFlight;
      this.flush();
    }
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
