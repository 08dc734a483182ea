// One benchmark row, the same in Node and in the bench page: load the model on the current
// backend, train a fresh all-linear LoRA adapter on synthetic sequences through the engine's own
// Trainer (timing its steps, counting GPU dispatches per step, then tf.profile over one more
// step for the peak tensor bytes), then time generation with the KV cache.
import { tf } from '../../src/engine/tf';
import { initBackend, type BackendInfo, type BackendName } from '../../src/engine/backend';
import { createLoraAdapter, disposeAdapter, TARGET_PRESETS, type LoraAdapter } from '../../src/engine/lora/lora';
import { linearShapes, parameterCount } from '../../src/engine/model/config';
import type { Decoder } from '../../src/engine/model/decoder';
import { Trainer, DEFAULT_TRAIN_OPTIONS } from '../../src/engine/train/trainer';
import type { BatchExample } from '../../src/engine/data/batches';
import type { TrainEvent } from '../../src/engine/train/events';
import { generate } from '../../src/engine/generate/generate';
import { generateRows } from '../../src/engine/generate/generate-rows';
import { mulberry32 } from '../../src/engine/rng';
import { trainingFlops, utilisation } from './flops';
import { since, snapshot, type GpuCounts } from './dispatch';
import { trackBuffers } from './buffers';
import { loadBenchModel, silentTokenizer, type BenchModelSpec, type StoriesFiles } from './models';
import type { Variant } from './variants';
import { clearTuning, tuneFrozenMatmuls } from '../../kernels';
import { timeFamilies, type StepTimestamps } from './timestamps';
import type { BackendDescription, BenchConfig, BenchRow, BenchShape, CountFigures, GenerateFigures, MemoryFigures, PairFigures, TrainFigures } from './schema';

export const ALL_LINEAR: readonly string[] = TARGET_PRESETS['all-linear'];

export interface RowContext {
  config: BenchConfig;
  /** Live GPU counters (installDispatchCounter), or null where there is no WebGPU. */
  counter: GpuCounts | null;
  stories: StoriesFiles;
  log: (line: string) => void;
}

export function shapeOf(c: BenchConfig): BenchShape {
  return { seq: c.seq, batch: c.batch, rank: c.rank, alpha: c.alpha, targets: [...ALL_LINEAR] };
}

/** Sequences of exactly `seq` random ids, every token after the first a target. */
export function syntheticExamples(vocab: number, seq: number, count: number, seed: number): BatchExample[] {
  const random = mulberry32(seed);
  const out: BatchExample[] = [];
  for (let i = 0; i < count; i++) {
    const inputIds = Array.from({ length: seq }, () => Math.floor(random() * vocab));
    const lossMask = inputIds.map((_, t) => (t === 0 ? 0 : 1));
    out.push({ inputIds, lossMask });
  }
  return out;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const SOFTWARE_GPU = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render/i;

/** initBackend plus what the report says about it (adapter details, wasm threads). */
export async function startBackend(name: BackendName, wasmPaths?: string): Promise<{ info: BackendInfo; description: BackendDescription }> {
  const info = await initBackend({ prefer: name, ...(wasmPaths ? { wasmPaths } : {}) });
  const description: BackendDescription = { name: info.name, reason: info.reason };
  if (name === 'webgpu') {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter) {
      const i = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
      description.adapter = {
        vendor: i.vendor ?? '',
        architecture: i.architecture ?? '',
        device: i.device ?? '',
        description: i.description ?? '',
        ...(typeof i.isFallbackAdapter === 'boolean' ? { isFallbackAdapter: i.isFallbackAdapter } : {}),
      };
      description.features = [...adapter.features].map(String).sort();
      description.software = SOFTWARE_GPU.test(Object.values(description.adapter).join(' ')) || i.isFallbackAdapter === true;
    }
  }
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    description.wasmThreads = wasm.getThreadsCount();
  }
  return { info, description };
}

/** Is the adapter navigator.gpu offers a software one? (null: there is none.) */
export async function probeAdapter(): Promise<{ software: boolean; label: string } | null> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return null;
  const i = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const label = [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ');
  return { software: SOFTWARE_GPU.test(label) || i.isFallbackAdapter === true, label };
}

export async function runRow(spec: BenchModelSpec, backend: BackendName, v: Variant, ctx: RowContext): Promise<BenchRow> {
  const c = ctx.config;
  const row: BenchRow = { model: spec.id, backend, variant: v.id, status: 'ok', shape: shapeOf(c), seconds: 0 };
  const t0 = performance.now();
  if (!v.available || !v.backends.includes(backend)) {
    row.status = 'skipped';
    row.error = v.available ? `${v.id} does not apply to ${backend}` : `${v.id}: not available in this build`;
    return row;
  }
  let loaded: Awaited<ReturnType<typeof loadBenchModel>> | null = null;
  let adapter: LoraAdapter | null = null;
  try {
    await v.enable(backend);
    ctx.log(`${spec.id} / ${backend} / ${v.id}: loading`);
    loaded = await loadBenchModel(spec, ctx.stories);
    const config = loaded.config;
    const flops = trainingFlops({ config, seq: c.seq, batch: c.batch, rank: c.rank, targetModules: ALL_LINEAR });
    row.params = { total: parameterCount(config), matmul: flops.matmulParams, lora: flops.loraParams };
    row.flops = { perTrainedToken: flops.perTrainedToken, perStep: flops.perStep, perTokenBreakdown: flops.perTokenBreakdown };
    adapter = createLoraAdapter(
      config,
      { r: c.rank, alpha: c.alpha, dropout: 0, useRslora: false, targetModules: [...ALL_LINEAR] },
      mulberry32(1),
    );
    if (c.tune && v.id === 'fused' && backend === 'webgpu' && !c.countOnly) {
      // The layers' linears, the lm_head (the fused cross-entropy's products) and the LoRA products.
      row.tuning = await tuneFrozenMatmuls([...linearShapes(config), { in: config.hiddenSize, out: config.vocabSize }], c.batch * c.seq, { rank: c.rank });
      for (const t of row.tuning) {
        const p = t.problem;
        ctx.log(`  tuned ${p.m}×${p.n}×${p.k}${p.transQ ? ' (Wᵀ)' : ''}: ${t.best} (${Object.entries(t.ms).map(([k, ms]) => `${k} ${ms.toFixed(2)} ms`).join(', ')})`);
      }
    }
    const train = await measureTraining(loaded.model, adapter, ctx);
    row.train = {
      ...train.figures,
      tflops: utilisation(flops.perStep, train.figures.stepMsMedian).tflops,
      mfu: utilisation(flops.perStep, train.figures.stepMsMedian, c.peakTflops ?? undefined).mfu,
    };
    if (train.memory) row.memory = train.memory;
    if (train.timestamps) row.timestamps = train.timestamps;
    row.counts = train.counts;
    ctx.log(
      `${spec.id} / ${backend} / ${v.id}: ${row.train.stepMsMedian.toFixed(0)} ms/step, ${row.train.tokensPerSec.toFixed(1)} tok/s` +
        (train.counts.dispatchesPerStep !== null ? `, ${train.counts.dispatchesPerStep} dispatches/step` : ''),
    );
    if (c.generate) {
      row.generate = await measureGeneration(loaded.model, adapter, backend, ctx);
      ctx.log(
        `${spec.id} / ${backend} / ${v.id}: prefill ${row.generate.prefillTokensPerSec.toFixed(1)} tok/s, decode ${row.generate.decodeTokensPerSec.toFixed(2)} tok/s`,
      );
    }
  } catch (e) {
    row.status = 'error';
    row.error = e instanceof Error ? e.message : String(e);
    ctx.log(`${spec.id} / ${backend} / ${v.id}: error: ${row.error}`);
  } finally {
    clearTuning();
    if (adapter) disposeAdapter(adapter);
    loaded?.dispose();
    row.seconds = (performance.now() - t0) / 1000;
  }
  return row;
}

interface TrainMeasurement {
  figures: Omit<TrainFigures, 'tflops' | 'mfu'>;
  memory: MemoryFigures | null;
  counts: CountFigures;
  timestamps?: StepTimestamps;
}

/**
 * warmup + steps optimizer steps of the Trainer (timing the last `steps` from its own step
 * events, which end once the loss is read back, so GPU work is included), then — paused at a
 * step boundary — one more step inside tf.profile for the peak bytes and the kernel count.
 */
async function measureTraining(model: Decoder, adapter: LoraAdapter, ctx: RowContext): Promise<TrainMeasurement> {
  const c = ctx.config;
  const timed = c.warmup + c.steps;
  // Extra steps after the timed ones, each from a pause: tf.profile's, then the GPU timestamps'.
  const total = timed + (c.profile ? 1 : 0) + (c.timestamps ? 1 : 0);
  const examples = syntheticExamples(model.config.vocabSize, c.seq, c.batch * total, 7);
  const trainer = new Trainer(model, adapter, examples, [], {
    ...DEFAULT_TRAIN_OPTIONS,
    padId: 0,
    maxLength: c.seq,
    batchSize: c.batch,
    maxSteps: total,
    shuffle: false,
    learningRate: 1e-4,
    schedule: 'constant',
  });
  const counter = ctx.counter;
  const stepMs: number[] = [];
  const losses: number[] = [];
  const dispatches: Array<{ dispatches: number; submits: number }> = [];
  let tokens = 0;
  let trained = 0;
  let last = counter ? snapshot(counter) : null;
  let onPaused: (() => void) | null = null;
  let onStep: (() => void) | null = null;
  let paused = new Promise<void>((resolve) => (onPaused = resolve));
  const onEvent = (e: TrainEvent) => {
    if (e.type === 'step') {
      if (counter && last) {
        dispatches.push(since(counter, last));
        last = snapshot(counter);
      }
      stepMs.push(e.stepMs);
      losses.push(e.loss);
      tokens = e.tokens;
      trained = e.trainedTokens;
      ctx.log(`  step ${e.step}/${total}: ${e.stepMs.toFixed(0)} ms, loss ${e.loss.toFixed(4)}`);
      if (e.step >= timed && e.step < total) trainer.pause();
      onStep?.();
    } else if (e.type === 'paused') onPaused?.();
  };
  try {
    const run = trainer.run(onEvent);
    let memory: MemoryFigures | null = null;
    let tfKernels: number | null = null;
    if (c.profile) {
      await Promise.race([paused, run]);
      paused = new Promise<void>((resolve) => (onPaused = resolve));
      const baselineBytes = tf.memory().numBytes;
      const stepDone = new Promise<void>((resolve) => (onStep = resolve));
      const buffers = trackBuffers();
      let profile: Awaited<ReturnType<typeof tf.profile>>;
      let distinct: { peakBytes: number };
      try {
        profile = await tf.profile(async () => {
          trainer.resume();
          await Promise.race([stepDone, run]);
          return tf.scalar(0);
        });
      } finally {
        distinct = buffers.stop();
      }
      tf.dispose(profile.result);
      memory = {
        peakBytes: profile.peakBytes,
        baselineBytes,
        stepPeakBytes: profile.peakBytes - baselineBytes,
        stepPeakBufferBytes: distinct.peakBytes,
      };
      tfKernels = profile.kernels.length;
    }
    let timestamps: StepTimestamps | undefined;
    if (c.timestamps) {
      await Promise.race([paused, run]);
      const stepDone = new Promise<void>((resolve) => (onStep = resolve));
      timestamps = await timeFamilies(async () => {
        trainer.resume();
        await Promise.race([stepDone, run]);
      });
      ctx.log(`  GPU time by family (${timestamps.available ? `${timestamps.busyMs.toFixed(1)} ms busy of a ${timestamps.spanMs.toFixed(1)} ms span, ${timestamps.passes} passes` : timestamps.reason}):`);
      for (const f of timestamps.families) if (f.passes) ctx.log(`    ${f.family}: ${f.ms.toFixed(2)} ms in ${f.passes} passes`);
    }
    const result = await run;
    if (result.cancelled) throw new Error('training was cancelled');
    const timedMs = stepMs.slice(c.warmup, timed);
    const timedDispatches = counter ? dispatches.slice(c.warmup, timed) : null;
    const med = median(timedMs);
    return {
      figures: {
        warmupSteps: c.warmup,
        steps: c.steps,
        stepMs: timedMs,
        stepMsMedian: med,
        tokensPerStep: tokens,
        trainedTokensPerStep: trained,
        tokensPerSec: (tokens / med) * 1000,
        firstLoss: losses[0]!,
        lastLoss: losses[timed - 1]!,
      },
      memory,
      counts: {
        dispatchesPerStep: timedDispatches ? median(timedDispatches.map((d) => d.dispatches)) : null,
        submitsPerStep: timedDispatches ? median(timedDispatches.map((d) => d.submits)) : null,
        dispatchesEachStep: timedDispatches ? timedDispatches.map((d) => d.dispatches) : null,
        tfKernelsPerStep: tfKernels,
      },
      ...(timestamps ? { timestamps } : {}),
    };
  } finally {
    trainer.dispose();
  }
}

/**
 * A generation's warm-up (the full length on WebGPU, where every new past length may compile
 * programs; two tokens elsewhere), a prefill-only run for its dispatch count, then the timed run
 * and its dispatches (null without a counter).
 */
async function timedGeneration<R>(
  run: (maxNewTokens: number) => Promise<R>,
  backend: BackendName,
  ctx: RowContext,
): Promise<{ result: R; prefillDispatches: number | null; total: number | null }> {
  const n = ctx.config.newTokens;
  await run(backend === 'webgpu' ? n : Math.min(2, n));
  const counter = ctx.counter;
  let prefillDispatches: number | null = null;
  if (counter) {
    const before = snapshot(counter);
    await run(1);
    prefillDispatches = since(counter, before).dispatches;
  }
  const before = counter ? snapshot(counter) : null;
  const result = await run(n);
  return { result, prefillDispatches, total: counter && before ? since(counter, before).dispatches : null };
}

/** Greedy generation with the adapter on and the KV cache (timedGeneration); EOS is disabled so every run makes newTokens. */
async function measureGeneration(model: Decoder, adapter: LoraAdapter, backend: BackendName, ctx: RowContext): Promise<GenerateFigures> {
  const c = ctx.config;
  const random = mulberry32(11);
  const prompt = Array.from({ length: c.promptTokens }, () => Math.floor(random() * model.config.vocabSize));
  const tokenizer = silentTokenizer(model.config.vocabSize);
  const run = (maxNewTokens: number) => generate(model, tokenizer, prompt, { maxNewTokens, eosTokenIds: [], adapter, temperature: 0 });
  const { result: r, prefillDispatches, total } = await timedGeneration(run, backend, ctx);
  const decoded = r.ids.length - 1;
  const decodeTokensPerSec = decoded > 0 ? (decoded / r.decodeMs) * 1000 : 0;
  return {
    promptTokens: prompt.length,
    newTokens: r.ids.length,
    prefillMs: r.prefillMs,
    prefillTokensPerSec: (prompt.length / r.prefillMs) * 1000,
    decodeMs: r.decodeMs,
    decodeTokensPerSec,
    prefillDispatches,
    dispatchesPerDecodedToken: total !== null && prefillDispatches !== null && decoded > 0 ? (total - prefillDispatches) / decoded : null,
    baseAndTuned: await measurePair(model, adapter, prompt, decodeTokensPerSec, backend, ctx),
  };
}

/**
 * Compare's case: base and tuned as the two rows of one batched generation (generate-rows.ts),
 * same prompt, greedy — the tokens of both rows per second of decoding, and how that compares
 * with one row alone (2× would be a free second row).
 */
async function measurePair(model: Decoder, adapter: LoraAdapter, prompt: number[], single: number, backend: BackendName, ctx: RowContext): Promise<PairFigures> {
  const rows = [
    { prompt, adapter: false },
    { prompt, adapter: true },
  ];
  const run = (maxNewTokens: number) => generateRows(model, silentTokenizer(model.config.vocabSize), rows, { maxNewTokens, eosTokenIds: [], adapter, temperature: 0 });
  const { result: r, prefillDispatches: first, total } = await timedGeneration(run, backend, ctx);
  // EOS is off: both rows run every step, so both end at the last one.
  const decodeMs = Math.max(...r.rows.map((row) => row.decodeMs));
  const decoded = r.steps - 1;
  const decodeTokensPerSec = decoded > 0 ? ((rows.length * decoded) / decodeMs) * 1000 : 0;
  return {
    rows: rows.length,
    newTokens: r.steps,
    decodeMs,
    decodeTokensPerSec,
    speedupOverOneRow: single > 0 ? decodeTokensPerSec / single : null,
    dispatchesPerStep: total !== null && first !== null && decoded > 0 ? (total - first) / decoded : null,
  };
}
