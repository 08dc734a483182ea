// Counts GPU work as the WebGPU device sees it, not as TF.js thinks it issues it: the prototype
// methods of GPUComputePassEncoder (dispatchWorkgroups, dispatchWorkgroupsIndirect) and GPUQueue
// (submit) are wrapped once, on the browser's globals or on Dawn's (installNodeWebGPU copies
// them onto globalThis), so every pass encoder any backend or custom kernel makes is counted.
// Counting costs one increment per call and stays on; callers read differences.

export interface GpuCounts {
  dispatches: number;
  indirectDispatches: number;
  submits: number;
}

const MARK = Symbol.for('weblora.bench.dispatchCounter');

interface CounterState {
  counts: GpuCounts;
}

type Proto = Record<string | symbol, unknown>;

function protoOf(name: string): Proto | null {
  const ctor = (globalThis as Record<string, unknown>)[name] as { prototype?: Proto } | undefined;
  return ctor?.prototype ?? null;
}

function wrap(proto: Proto, method: string, bump: () => void): boolean {
  const original = proto[method];
  if (typeof original !== 'function') return false;
  proto[method] = function (this: unknown, ...args: unknown[]) {
    bump();
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  return true;
}

/**
 * Installs the counters (idempotent) and returns the live totals, or null where this
 * environment has no WebGPU classes (the cpu and wasm backends then have nothing to count).
 */
export function installDispatchCounter(): GpuCounts | null {
  const g = globalThis as Record<symbol, CounterState | undefined>;
  const existing = g[MARK];
  if (existing) return existing.counts;
  const pass = protoOf('GPUComputePassEncoder');
  const queue = protoOf('GPUQueue');
  if (!pass || !queue) return null;
  const counts: GpuCounts = { dispatches: 0, indirectDispatches: 0, submits: 0 };
  const ok = wrap(pass, 'dispatchWorkgroups', () => counts.dispatches++);
  wrap(pass, 'dispatchWorkgroupsIndirect', () => counts.indirectDispatches++);
  wrap(queue, 'submit', () => counts.submits++);
  if (!ok) return null;
  g[MARK] = { counts };
  return counts;
}

export function snapshot(c: GpuCounts): GpuCounts {
  return { ...c };
}

/** Dispatches (direct + indirect) and submits since `before`. */
export function since(c: GpuCounts, before: GpuCounts): { dispatches: number; submits: number } {
  return {
    dispatches: c.dispatches + c.indirectDispatches - before.dispatches - before.indirectDispatches,
    submits: c.submits - before.submits,
  };
}
