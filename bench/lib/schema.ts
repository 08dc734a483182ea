// The JSON every runner writes (Node, Chromium, and the PyTorch peer in bench/torch_peer.py):
// one report per run, one row per model × backend × variant. Times in ms, sizes in bytes,
// rates per second; null where a figure does not apply (no GPU dispatches on cpu/wasm, no MFU
// without a peak).
import type { FlopsBreakdown } from './flops';
import type { StepTimestamps } from './timestamps';

export const SCHEMA = 'weblora-bench/1';

export interface BenchShape {
  seq: number;
  batch: number;
  rank: number;
  alpha: number;
  /** LoRA target modules (all linear layers). */
  targets: string[];
}

export interface TrainFigures {
  warmupSteps: number;
  /** Timed steps, after the warm-up. */
  steps: number;
  /** Each timed step, forward + backward + optimizer, ending when its loss is on the host. */
  stepMs: number[];
  stepMsMedian: number;
  tokensPerStep: number;
  trainedTokensPerStep: number;
  /** tokensPerStep / median step time (all B·T tokens, the usual convention). */
  tokensPerSec: number;
  /** Model FLOP/s from bench/lib/flops.ts at the median step time, in TFLOP/s. */
  tflops: number;
  /** tflops / peak, when a peak was given. */
  mfu: number | null;
  /** Loss of the first and last step (a sanity check: finite, near ln(vocab) for random weights). */
  firstLoss: number;
  lastLoss: number;
}

export interface MemoryFigures {
  /**
   * tf.profile's peakBytes over one training step: the sizes of all live tensors, weights
   * included, as TF.js counts them — per tensor handle, so a reshape or a saved clone that shares
   * its input's buffer counts again.
   */
  peakBytes: number;
  /** Live tensor bytes (same accounting) when that step began: weights, adapter, optimizer state. */
  baselineBytes: number;
  /** peakBytes − baselineBytes: what the step itself holds at its high-water mark. */
  stepPeakBytes: number;
  /**
   * The step's high-water mark of distinct tensor buffers it allocated, net of those it freed
   * (bench/lib/buffers.ts): each buffer counted once, however many handles share it. The
   * PyTorch peer's max_memory_allocated − baseline is the same kind of figure.
   */
  stepPeakBufferBytes: number;
}

export interface CountFigures {
  /** GPU compute dispatches per training step, counted on the WebGPU device (null off WebGPU). */
  dispatchesPerStep: number | null;
  /** Queue submits per training step (null off WebGPU). */
  submitsPerStep: number | null;
  /** Dispatches of every timed step (they should all be equal). */
  dispatchesEachStep: number[] | null;
  /** TF.js kernel invocations in one step, from tf.profile (any backend). */
  tfKernelsPerStep: number | null;
}

export interface GenerateFigures {
  promptTokens: number;
  newTokens: number;
  /** Forward over the prompt with an empty KV cache, until the first token's logits are read. */
  prefillMs: number;
  prefillTokensPerSec: number;
  /** The remaining newTokens − 1 single-token steps with the KV cache. */
  decodeMs: number;
  decodeTokensPerSec: number;
  /** GPU dispatches of the prefill, and per decoded token (null off WebGPU). */
  prefillDispatches: number | null;
  dispatchesPerDecodedToken: number | null;
  /** Compare's case: base and tuned as two rows of one batched generation (absent in older reports). */
  baseAndTuned?: PairFigures;
}

export interface PairFigures {
  rows: number;
  newTokens: number;
  /** The newTokens − 1 steps after the prefill, both rows together. */
  decodeMs: number;
  /** Tokens of all rows per second of decoding. */
  decodeTokensPerSec: number;
  /** decodeTokensPerSec ÷ one row's (the target for base + tuned: ≥ 1.8). */
  speedupOverOneRow: number | null;
  /** GPU dispatches per step for all rows (decode step and sampling; null off WebGPU). */
  dispatchesPerStep: number | null;
}

export interface BenchRow {
  model: string;
  backend: string;
  variant: string;
  /** The frozen base's precision (absent in reports made before it existed: fp32). */
  precision?: string;
  /** What multiplied by the frozen weights: 'fp32', 'simt-f16' or 'subgroup-matrix'; and why not the matrix units where offered. */
  frozenMatmul?: string;
  frozenMatmulNote?: string;
  status: 'ok' | 'error' | 'skipped';
  error?: string;
  /** PyTorch peer only: the implementation that ran, e.g. "transformers 4.57 (sdpa attention) + peft 0.17". */
  impl?: string;
  shape: BenchShape;
  params?: { total: number; matmul: number; lora: number };
  flops?: { perTrainedToken: number; perStep: number; perTokenBreakdown: FlopsBreakdown };
  train?: TrainFigures;
  memory?: MemoryFigures;
  counts?: CountFigures;
  generate?: GenerateFigures;
  /** `--tune`, fused WebGPU rows: the frozen-weight matmul tiles measured before training. */
  tuning?: { problem: { m: number; n: number; k: number; transP: boolean; transQ: boolean }; ms: Record<string, number>; best: string }[];
  /** `--timestamps`, WebGPU rows: GPU time per kernel family over one more step (bench/lib/timestamps.ts). */
  timestamps?: StepTimestamps;
  /** Wall time of the whole row (load, train, profile, generate). */
  seconds: number;
}

export interface BackendDescription {
  name: string;
  /** initBackend's sentence, or the torch device name. */
  reason: string;
  adapter?: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean };
  /** A software rasteriser (SwiftShader, lavapipe): figures say nothing about GPU speed. */
  software?: boolean;
  wasmThreads?: number;
  features?: string[];
}

export interface BenchConfig {
  models: string[];
  backends: string[];
  variants: string[];
  /** Frozen-base precisions, a row each (default ['fp32']). */
  precisions?: string[];
  steps: number;
  warmup: number;
  seq: number;
  batch: number;
  rank: number;
  alpha: number;
  promptTokens: number;
  newTokens: number;
  peakTflops: number | null;
  /** PyTorch peer only: the bf16 peak its bf16-autocast rows use for MFU. */
  peakTflopsBf16?: number | null;
  /** PyTorch peer only: --impl and --attn. */
  impl?: string;
  attn?: string;
  swiftshader: boolean;
  profile: boolean;
  generate: boolean;
  /** Dispatches counted but not executed (bench/lib/dispatch.ts): counts and bytes only, no timings. */
  countOnly?: boolean;
  /** Fused rows measure the frozen-weight matmul tiles first (kernels/tuning.ts). */
  tune?: boolean;
  /** WebGPU rows time one more step per kernel family with timestamp queries. */
  timestamps?: boolean;
}

export interface BenchReport {
  schema: typeof SCHEMA;
  runner: 'node' | 'browser' | 'torch';
  createdAt: string;
  command: string;
  git: { commit: string | null; dirty: boolean | null };
  machine: Record<string, unknown>;
  software: Record<string, string>;
  backends: BackendDescription[];
  config: BenchConfig;
  rows: BenchRow[];
}
