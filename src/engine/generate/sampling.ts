// Next-token choice from one row of logits, on the CPU: the row is only `vocab` floats, and
// doing it here keeps every sampler exact and seeded identically on every backend.

export interface SamplingOptions {
  /** 0 or absent means greedy (argmax). */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** HF's CTRL-style penalty: > 1 discourages tokens already in the sequence. */
  repetitionPenalty?: number;
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Divides positive logits and multiplies negative ones of tokens already seen (in place). */
export function applyRepetitionPenalty(row: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    const v = row[id];
    row[id] = v > 0 ? v / penalty : v * penalty;
  }
}

export function sampleToken(
  logits: Float32Array,
  history: readonly number[],
  opts: SamplingOptions,
  random: () => number,
): number {
  const row = Float32Array.from(logits);
  applyRepetitionPenalty(row, history, opts.repetitionPenalty ?? 1);
  const t = opts.temperature ?? 0;
  if (!(t > 0)) return argmax(row);

  let ids = Array.from(row.keys()).sort((a, b) => row[b] - row[a]);
  if (opts.topK && opts.topK > 0) ids = ids.slice(0, opts.topK);
  const max = row[ids[0]];
  let probs = ids.map((id) => Math.exp((row[id] - max) / t));
  let sum = probs.reduce((a, b) => a + b, 0);
  if (opts.topP !== undefined && opts.topP < 1) {
    // Keep the smallest prefix whose mass reaches top_p (always at least one token).
    let acc = 0;
    let keep = 0;
    while (keep < ids.length && acc < opts.topP * sum) acc += probs[keep++];
    ids = ids.slice(0, Math.max(1, keep));
    probs = probs.slice(0, ids.length);
    sum = probs.reduce((a, b) => a + b, 0);
  }
  let r = random() * sum;
  for (let i = 0; i < ids.length; i++) {
    r -= probs[i];
    if (r <= 0) return ids[i];
  }
  return ids[ids.length - 1];
}
