// GPU time per kernel family (kernels/families.ts) over a stretch of work, from timestamp
// queries, where the device has 'timestamp-query'. While a recording is open:
// - TF.js and the fused kernels end their compute pass after every dispatch
//   (WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE = 1; kernels/dispatch.ts follows the same flag), so a pass
//   is one dispatch;
// - every compute pass begun on the device gets timestampWrites (its begin and end), through a
//   wrapper on GPUCommandEncoder.prototype.beginComputePass, and the pipeline it sets names it
//   (GPUComputePassEncoder.prototype.setPipeline: the pipeline's label).
// A pass's time is end − begin; a family's time is the sum over its passes. The submit after
// every dispatch slows the recorded step's wall time, not the GPU time of each pass.
import { tf } from '../../src/engine/tf';
import { kernelFamily, KERNEL_FAMILIES, type KernelFamily } from '../../kernels/families';
import { submit } from '../../kernels/dispatch';

export interface FamilyTime {
  family: KernelFamily;
  ms: number;
  passes: number;
}

export interface StepTimestamps {
  available: boolean;
  /** Why not, where unavailable. */
  reason?: string;
  /** Every family, in KERNEL_FAMILIES order (passes 0 where none ran). */
  families: FamilyTime[];
  /** Σ of all passes' GPU time (= Σ families). */
  busyMs: number;
  /** First pass's begin to last pass's end. */
  spanMs: number;
  passes: number;
  /** Passes that held more than one dispatch (their time goes to the first pipeline's family). */
  sharedPasses: number;
}

/** WebGPU's largest query set. */
const QUERIES_PER_SET = 4096;

interface PassRecord {
  set: number;
  index: number;
  label: string | null;
  dispatches: number;
}

interface Recording {
  device: GPUDevice;
  sets: GPUQuerySet[];
  passes: PassRecord[];
  byEncoder: WeakMap<object, PassRecord>;
}

let active: Recording | null = null;
const INSTALLED = Symbol.for('weblora.bench.timestamps');

function install(): void {
  const g = globalThis as Record<string | symbol, unknown>;
  if (g[INSTALLED]) return;
  const enc = (g.GPUCommandEncoder as { prototype: Record<string, unknown> } | undefined)?.prototype;
  const pass = (g.GPUComputePassEncoder as { prototype: Record<string, unknown> } | undefined)?.prototype;
  if (!enc || !pass) throw new Error('timestamps: no WebGPU classes');
  const begin = enc.beginComputePass as (this: GPUCommandEncoder, d?: GPUComputePassDescriptor) => GPUComputePassEncoder;
  enc.beginComputePass = function (this: GPUCommandEncoder, d: GPUComputePassDescriptor = {}) {
    const rec = active;
    if (!rec || d.timestampWrites) return begin.call(this, d);
    const slot = rec.passes.length;
    const set = Math.floor((2 * slot) / QUERIES_PER_SET);
    while (rec.sets.length <= set) rec.sets.push(rec.device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET, label: 'bench timestamps' }));
    const index = (2 * slot) % QUERIES_PER_SET;
    const record: PassRecord = { set, index, label: null, dispatches: 0 };
    rec.passes.push(record);
    const encoder = begin.call(this, { ...d, timestampWrites: { querySet: rec.sets[set], beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 } });
    rec.byEncoder.set(encoder, record);
    return encoder;
  };
  const setPipeline = pass.setPipeline as (this: GPUComputePassEncoder, p: GPUComputePipeline) => void;
  pass.setPipeline = function (this: GPUComputePassEncoder, p: GPUComputePipeline) {
    const record = active?.byEncoder.get(this);
    if (record) {
      record.dispatches++;
      if (record.label === null) record.label = p.label;
    }
    return setPipeline.call(this, p);
  };
  g[INSTALLED] = true;
}

/** Why the current WebGPU backend cannot record timestamps, or null. */
export function timestampsUnavailable(): string | null {
  if (tf.getBackend() !== 'webgpu') return `backend ${tf.getBackend()} is not webgpu`;
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  if (!device) return 'the webgpu backend has no device';
  if (!device.features.has('timestamp-query')) return "the device has no 'timestamp-query' feature";
  return null;
}

const empty = (reason: string): StepTimestamps => ({
  available: false,
  reason,
  families: KERNEL_FAMILIES.map((family) => ({ family, ms: 0, passes: 0 })),
  busyMs: 0,
  spanMs: 0,
  passes: 0,
  sharedPasses: 0,
});

/**
 * Runs `work` (which must end with its GPU work read back or awaited) with every compute pass
 * timed, and returns the GPU time per family — or `available: false` with the reason.
 */
export async function timeFamilies(work: () => Promise<void>): Promise<StepTimestamps> {
  const why = timestampsUnavailable();
  if (why) {
    await work();
    return empty(why);
  }
  install();
  const backend = tf.backend();
  const device = (backend as unknown as { device: GPUDevice }).device;
  submit(backend);
  const batch = tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE');
  tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 1);
  const rec: Recording = { device, sets: [], passes: [], byEncoder: new WeakMap() };
  active = rec;
  try {
    await work();
    submit(backend);
  } finally {
    active = null;
    tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', batch);
  }
  if (!rec.passes.length) return { ...empty('no compute pass ran'), available: true };
  // Resolve every set into one buffer and read it back.
  const bytes = rec.sets.length * QUERIES_PER_SET * 8;
  const resolve = device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  const used = 2 * rec.passes.length;
  rec.sets.forEach((s, i) => encoder.resolveQuerySet(s, 0, Math.min(QUERIES_PER_SET, used - i * QUERIES_PER_SET), resolve, i * QUERIES_PER_SET * 8));
  encoder.copyBufferToBuffer(resolve, 0, read, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const ticks = new BigUint64Array(read.getMappedRange().slice(0));
  read.unmap();
  [resolve, read, ...rec.sets].forEach((b) => b.destroy());

  const times = new Map<KernelFamily, FamilyTime>(KERNEL_FAMILIES.map((family) => [family, { family, ms: 0, passes: 0 }]));
  let busy = 0;
  let first = Infinity;
  let last = -Infinity;
  let shared = 0;
  for (const p of rec.passes) {
    const at = p.set * QUERIES_PER_SET + p.index;
    const [b, e] = [Number(ticks[at]), Number(ticks[at + 1])];
    // A pass without a dispatch (or one the driver did not stamp) counts nothing.
    if (p.dispatches === 0 || !(e >= b) || b === 0) continue;
    const ms = (e - b) / 1e6;
    const t = times.get(kernelFamily(p.label ?? ''))!;
    t.ms += ms;
    t.passes++;
    busy += ms;
    first = Math.min(first, b);
    last = Math.max(last, e);
    if (p.dispatches > 1) shared++;
  }
  return {
    available: true,
    families: [...times.values()],
    busyMs: busy,
    spanMs: Number.isFinite(first) ? (last - first) / 1e6 : 0,
    passes: rec.passes.filter((p) => p.dispatches > 0).length,
    sharedPasses: shared,
  };
}

/** The `--timestamps` table: per row, GPU ms and share of each family; '' when no row has timestamps. */
export function formatFamilies(rows: readonly { model: string; variant: string; backend: string; timestamps?: StepTimestamps }[]): string {
  const timed = rows.filter((r) => r.timestamps);
  if (!timed.length) return '';
  const header = ['model', 'variant', ...KERNEL_FAMILIES, 'busy ms', 'span ms'];
  const lines = timed.map((r) => {
    const t = r.timestamps!;
    if (!t.available) return [r.model, r.variant, `unavailable: ${t.reason}`];
    return [
      r.model,
      r.variant,
      ...t.families.map((f) => (f.passes ? `${f.ms.toFixed(1)} (${((100 * f.ms) / t.busyMs).toFixed(0)}%)` : '–')),
      t.busyMs.toFixed(1),
      t.spanMs.toFixed(1),
    ];
  });
  const width = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l.length > 3 ? l[i].length : 0))));
  const fmt = (l: string[]) => (l.length === 3 ? l.join('  ') : l.map((c, i) => (i < 2 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  '));
  return ['GPU time per kernel family over one step (ms, share of busy time; timestamp queries)', fmt(header), ...lines.map(fmt)].join('\n');
}
