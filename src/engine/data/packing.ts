// Packing: examples laid end to end in rows of a fixed length, in the given order (next-fit:
// an example that does not fit the current row starts a new one, so no example is split).
// Keeping the order keeps a seeded shuffle meaningful; the waste is at most one example's
// length per row.

export function packRows(items: readonly { id: number; length: number }[], rowLength: number): number[][] {
  const rows: number[][] = [];
  let current: number[] = [];
  let used = 0;
  for (const { id, length } of items) {
    if (length > rowLength) throw new Error(`example ${id} (${length} tokens) is longer than a packed row (${rowLength})`);
    if (used + length > rowLength && current.length > 0) {
      rows.push(current);
      current = [];
      used = 0;
    }
    current.push(id);
    used += length;
  }
  if (current.length > 0) rows.push(current);
  return rows;
}
