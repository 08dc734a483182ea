// Numeric comparisons shared by Node and browser tests (no Node modules).

/** max|a−b| relative to the largest magnitude in the reference. */
export function maxRelativeError(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ref[i] - got[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}
