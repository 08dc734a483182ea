// Counts GPU work as the WebGPU device sees it, not as TF.js thinks it issues it: the prototype
// methods of GPUComputePassEncoder (dispatchWorkgroups, dispatchWorkgroupsIndirect) and GPUQueue
// (submit) are wrapped once, on the browser's globals or on Dawn's (installNodeWebGPU copies
// them onto globalThis), so every pass encoder any backend or custom kernel makes is counted.
// Counting costs one increment per call and stays on; callers read differences.
//
// `executeDispatches(false)` makes the wrapped dispatch calls count and return without reaching
// the device (`--count-only`): the engine still builds every pipeline, binds every buffer and
// issues every dispatch it would, so the counts (and TF.js's tensor-byte accounting) are those of
// a real step, for shapes that would take minutes a step on a software adapter. Results and
// timings of such a run are meaningless; test/webgpu/bench-count-only.test.ts checks that the
// counts and bytes equal a real run's. `placeholderBuffers()` goes further for shapes whose
// stock step needs more memory than the machine has (SmolLM2-135M at 8×256 needs ~20 GB on
// SwiftShader): computed buffers become 16-byte placeholders that still report their requested
// size to TF.js's buffer pool. Uploaded data (mapped at creation) stays real. Binding such a
// buffer is a validation error, reported by the device and never executed — nothing runs anyway.

export interface GpuCounts {
  dispatches: number;
  indirectDispatches: number;
  submits: number;
}

const MARK = Symbol.for('weblora.bench.dispatchCounter');

interface CounterState {
  counts: GpuCounts;
  execute: boolean;
}

type Proto = Record<string | symbol, unknown>;

function protoOf(name: string): Proto | null {
  const ctor = (globalThis as Record<string, unknown>)[name] as { prototype?: Proto } | undefined;
  return ctor?.prototype ?? null;
}

function wrap(proto: Proto, method: string, bump: () => void, execute: () => boolean = () => true): boolean {
  const original = proto[method];
  if (typeof original !== 'function') return false;
  proto[method] = function (this: unknown, ...args: unknown[]) {
    bump();
    if (!execute()) return undefined;
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
  const state: CounterState = { counts: { dispatches: 0, indirectDispatches: 0, submits: 0 }, execute: true };
  const counts = state.counts;
  const execute = () => state.execute;
  const ok = wrap(pass, 'dispatchWorkgroups', () => counts.dispatches++, execute);
  wrap(pass, 'dispatchWorkgroupsIndirect', () => counts.indirectDispatches++, execute);
  wrap(queue, 'submit', () => counts.submits++);
  if (!ok) return null;
  g[MARK] = state;
  return counts;
}

/** Whether counted dispatches also run on the device (see the top of this file). */
export function executeDispatches(on: boolean): void {
  const state = (globalThis as Record<symbol, CounterState | undefined>)[MARK];
  if (!state) throw new Error('executeDispatches: installDispatchCounter() first');
  state.execute = on;
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

/** Count-only runs: storage buffers that are not uploads shrink to placeholders (see the top). */
export function placeholderBuffers(): void {
  const g = globalThis as Record<string, unknown>;
  const device = g.GPUDevice as { prototype: Proto } | undefined;
  const usage = g.GPUBufferUsage as { STORAGE: number } | undefined;
  if (!device || !usage) throw new Error('placeholderBuffers: no WebGPU classes');
  const proto = device.prototype;
  if (proto[PLACEHOLDERS]) return;
  const original = proto.createBuffer as (d: GPUBufferDescriptor) => GPUBuffer;
  proto.createBuffer = function (this: GPUDevice, d: GPUBufferDescriptor) {
    if (!(d.usage & usage.STORAGE) || d.mappedAtCreation) return original.call(this, d);
    const buffer = original.call(this, { ...d, size: 16 });
    Object.defineProperty(buffer, 'size', { value: d.size });
    return buffer;
  };
  proto[PLACEHOLDERS] = true;
}

const PLACEHOLDERS = Symbol.for('weblora.bench.placeholderBuffers');
