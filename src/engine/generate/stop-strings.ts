// Streaming text that must end before the first stop string. The decoded continuation grows a
// token at a time, and a stop string may arrive split over several tokens ("there was a" +
// " little"): text is released only once it cannot be the start of a stop string, so what was
// streamed always equals the final text cut before the first stop string — never a leaked
// beginning of one. Only the longest tail that is a prefix of some stop string is held back.

/** Index of the earliest occurrence of any stop string in `text`, or -1. */
export function firstStop(text: string, stops: readonly string[]): number {
  let at = -1;
  for (const s of stops) {
    const i = s ? text.indexOf(s) : -1;
    if (i !== -1 && (at === -1 || i < at)) at = i;
  }
  return at;
}

/** `text` cut before its first stop string (the whole of it when there is none). */
export function cutAtStop(text: string, stops: readonly string[]): string {
  const at = firstStop(text, stops);
  return at === -1 ? text : text.slice(0, at);
}

/** Length of the longest suffix of `text` that is a proper prefix of one of `stops`. */
export function heldBackLength(text: string, stops: readonly string[]): number {
  let held = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > held; k--) {
      if (text.endsWith(s.slice(0, k))) {
        held = k;
        break;
      }
    }
  }
  return held;
}

export class StopStringStream {
  /** What has been released so far. */
  streamed = '';
  private readonly stops: string[];

  constructor(stops: readonly string[] | undefined) {
    this.stops = (stops ?? []).filter((s) => s.length > 0);
  }

  /**
   * Takes the whole decoded continuation so far; returns the text newly safe to show and whether
   * a stop string was reached (the delta then ends right before it).
   */
  push(full: string): { delta: string; stopped: boolean } {
    const at = firstStop(full, this.stops);
    if (at !== -1) return { delta: this.release(full.slice(0, at)), stopped: true };
    // A partial UTF-8 sequence decodes to U+FFFD until its last byte arrives: hold it back too.
    const settled = full.replace(/\uFFFD+$/, '');
    return { delta: this.release(settled.slice(0, settled.length - heldBackLength(settled, this.stops))), stopped: false };
  }

  /** At the end of generation nothing more can complete a stop string: the rest is released. */
  finish(full: string): string {
    return this.release(cutAtStop(full, this.stops));
  }

  // Deltas only ever extend what was streamed; should decoding rewrite earlier text, the stream
  // waits and the generation's result is the truth.
  private release(safe: string): string {
    if (safe.length <= this.streamed.length || !safe.startsWith(this.streamed)) return '';
    const delta = safe.slice(this.streamed.length);
    this.streamed = safe;
    return delta;
  }
}
