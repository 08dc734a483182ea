// The worker runs one operation at a time: a second is refused with a clear 'busy' failure, not
// queued behind a training run of unknown length. Those marked as allowed while paused may run
// while training waits at a pause (they see the adapter as it is at that step).
import { asThrowable, fail } from './failures';

export class OneAtATime {
  private busy: string | null = null;

  constructor(private readonly trainingPaused: () => boolean) {}

  async run<T>(name: string, fn: () => Promise<T>, allowWhilePaused = false): Promise<T> {
    const pausedRun = this.busy === 'training' && this.trainingPaused();
    if (this.busy && !(allowWhilePaused && pausedRun)) fail('busy', `The engine is busy (${this.busy}).`, 'Wait for it to finish, or stop it first.');
    const outer = this.busy;
    this.busy = name;
    try {
      return await fn();
    } catch (e) {
      throw asThrowable(e);
    } finally {
      this.busy = outer;
    }
  }
}

/** A call that needs no exclusivity, its errors as EngineFailures. */
export async function plain<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw asThrowable(e);
  }
}
