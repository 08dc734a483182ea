// Train/validation split, reproducible from a seed. Items that came from the same source
// record (self-instruct's instances) share a group and land on the same side, so validation
// never sees an instruction that training saw.
import { shuffled } from '../rng';

export interface SplitOptions {
  seed: number;
  /** Share of items for validation, e.g. 0.1; ignored when valCount is given. */
  valFraction?: number;
  /** Number of items for validation (whole groups are taken, so it can be exceeded by a group's size - 1). */
  valCount?: number;
}

export function splitTrainVal<T>(
  items: readonly T[],
  opts: SplitOptions,
  groupOf: (item: T, index: number) => string | number = (_, i) => i,
): { train: T[]; val: T[] } {
  const n = items.length;
  let target = opts.valCount ?? Math.round((opts.valFraction ?? 0) * n);
  if (opts.valCount === undefined && (opts.valFraction ?? 0) > 0 && n >= 2) target = Math.max(1, target);
  target = Math.max(0, Math.min(target, n - 1)); // training keeps at least one item
  if (target === 0) return { train: items.slice(), val: [] };

  const groups = new Map<string | number, number[]>();
  items.forEach((item, i) => {
    const g = groupOf(item, i);
    const members = groups.get(g);
    if (members) members.push(i);
    else groups.set(g, [i]);
  });
  const inVal = new Uint8Array(n);
  let taken = 0;
  for (const members of shuffled([...groups.values()], opts.seed)) {
    if (taken >= target) break;
    if (taken + members.length > n - 1) continue; // would leave training empty
    for (const i of members) inVal[i] = 1;
    taken += members.length;
  }
  // Both sides keep the input order; shuffling is the batcher's job.
  return { train: items.filter((_, i) => !inVal[i]), val: items.filter((_, i) => inVal[i]) };
}
