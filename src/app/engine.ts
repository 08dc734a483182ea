// The UI's handle on the training worker: starts it, watches it (error events and a
// heartbeat), and restarts it when it dies or stops answering. Every call goes through
// `call`, which fails fast with a clear error if the worker goes away mid-call — Comlink
// alone would leave such a promise pending forever.
import * as Comlink from 'comlink';
import { FAILURE_NAME, type BackendChoice, type BackendInfo, type EngineFailure, type KernelChoice, type PrecisionChoice, type WorkerApi } from '../worker/api';

export class EngineError extends Error {
  constructor(readonly failure: EngineFailure) {
    super(failure.message);
    this.name = 'EngineError';
  }
}

/** Any error from a worker call, as an EngineFailure. */
export function failureOf(e: unknown): EngineFailure {
  if (e instanceof EngineError) return e.failure;
  if (e instanceof Error && e.name === FAILURE_NAME) {
    try {
      return JSON.parse(e.message) as EngineFailure;
    } catch {
      /* fall through */
    }
  }
  const message = e instanceof Error ? e.message : String(e);
  return { kind: 'internal', message, hint: 'The browser console may have details.' };
}

export interface EngineEvents {
  /** The worker died or hung and a new one is starting; `why` says what happened. */
  onCrash(why: EngineFailure): void;
  /** A (new) worker is ready. */
  onReady(info: BackendInfo, restarted: boolean): void;
  onStartFailed(f: EngineFailure): void;
  /** A fatal condition reported by the worker itself (device lost). */
  onFatal(f: EngineFailure): void;
  /** The worker has (not) answered pings for a while. */
  onResponsive(unresponsiveSince: number | null): void;
}

const PING_EVERY_MS = 5_000;
/** After this long without an answer the worker is declared hung and restarted. */
const HUNG_AFTER_MS = 120_000;

export class Engine {
  private worker: Worker | null = null;
  private remote: Comlink.Remote<WorkerApi> | null = null;
  private generation = 0;
  private crashed: { promise: Promise<never>; reject: (e: unknown) => void } | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private lastPong = Date.now();
  private unresponsive = false;
  prefer: BackendChoice = 'auto';
  kernels: KernelChoice = 'fused';
  precision: PrecisionChoice = 'fp32';

  constructor(private readonly events: EngineEvents) {}

  async start(prefer: BackendChoice = this.prefer, restarted = false): Promise<void> {
    this.stopWorker();
    this.prefer = prefer;
    const gen = ++this.generation;
    const worker = new Worker(new URL('../worker/training.worker.ts', import.meta.url), { type: 'module', name: 'weblora-engine' });
    this.worker = worker;
    this.remote = Comlink.wrap<WorkerApi>(worker);
    let reject!: (e: unknown) => void;
    const promise = new Promise<never>((_, r) => (reject = r));
    promise.catch(() => {});
    this.crashed = { promise, reject };
    worker.addEventListener('error', (ev) => {
      ev.preventDefault();
      if (gen === this.generation) void this.crash({ kind: 'internal', message: `The engine crashed: ${ev.message || 'the worker failed to start or threw an uncaught error'}.`, hint: 'It was restarted.' });
    });
    worker.addEventListener('messageerror', () => {
      if (gen === this.generation) void this.crash({ kind: 'internal', message: 'The engine sent a message that could not be read.', hint: 'It was restarted.' });
    });
    const hooks = Comlink.proxy({
      onFatal: (f: EngineFailure) => {
        if (gen !== this.generation) return;
        this.events.onFatal(f);
        if (f.kind === 'device-lost') void this.crash(f);
      },
    });
    try {
      const info = await this.call((api) => api.init(prefer, hooks, this.kernels, this.precision));
      if (gen !== this.generation) return;
      this.startHeartbeat(gen);
      this.events.onReady(info, restarted);
    } catch (e) {
      if (gen !== this.generation) return;
      this.events.onStartFailed(failureOf(e));
    }
  }

  /** Calls the worker; rejects at once if the worker crashes or is restarted meanwhile. */
  async call<T>(fn: (api: Comlink.Remote<WorkerApi>) => Promise<T>): Promise<T> {
    if (!this.remote || !this.crashed) throw new EngineError({ kind: 'not-ready', message: 'The engine is not running.', hint: 'Wait a moment, or restart it from the backend menu.' });
    try {
      return await Promise.race([fn(this.remote), this.crashed.promise]);
    } catch (e) {
      const f = failureOf(e);
      throw new EngineError(f);
    }
  }

  async restart(prefer: BackendChoice = this.prefer, why?: EngineFailure): Promise<void> {
    if (why) this.crashed?.reject(new EngineError(why));
    else this.crashed?.reject(new EngineError({ kind: 'cancelled', message: 'The engine was restarted.', hint: '' }));
    await this.start(prefer, true);
  }

  private async crash(why: EngineFailure): Promise<void> {
    this.crashed?.reject(new EngineError(why));
    this.events.onCrash(why);
    await this.start(this.prefer, true);
  }

  private startHeartbeat(gen: number): void {
    this.lastPong = Date.now();
    this.unresponsive = false;
    this.heartbeat = setInterval(() => {
      if (gen !== this.generation || !this.remote) return;
      const sent = Date.now();
      this.remote
        .ping()
        .then(() => {
          if (gen !== this.generation) return;
          this.lastPong = Math.max(this.lastPong, sent);
          if (this.unresponsive) {
            this.unresponsive = false;
            this.events.onResponsive(null);
          }
        })
        .catch(() => {});
      const silent = Date.now() - this.lastPong;
      if (silent > PING_EVERY_MS * 3 && !this.unresponsive) {
        this.unresponsive = true;
        this.events.onResponsive(this.lastPong);
      }
      if (silent > HUNG_AFTER_MS) {
        void this.crash({
          kind: 'internal',
          message: `The engine did not answer for ${Math.round(silent / 1000)} s and was restarted.`,
          hint: 'A very large model or batch on a slow backend can block it; try smaller settings.',
        });
      }
    }, PING_EVERY_MS);
  }

  private stopWorker(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    if (this.remote) this.remote[Comlink.releaseProxy]();
    this.worker?.terminate();
    this.worker = null;
    this.remote = null;
  }
}
