// The contract between the UI thread and the training worker. Everything here is plain,
// structured-clone-able data: the UI never sees a tensor, only numbers, strings and bytes.
// Type-only imports from the engine keep the UI bundle free of TF.js.
import type { BackendInfo, BackendName } from '../engine/backend';
import type { DownloadProgress } from '../engine/model/source/source-types';
import type { AdapterSummary, ModelSummary } from '../engine/session';
import type { LoraConfig } from '../engine/lora/lora';
import type { DataCounts } from '../engine/data/report';
import type { FileReport } from '../engine/data/load';
import type { ColumnMapping, DatasetFormat } from '../engine/data/formats';
import type { PromptTemplate } from '../engine/data/template';
import type { DataIssue } from '../engine/data/types';
import type { TrainEvent, TrainPhase } from '../engine/train/events';
import type { TrainCheckpoint, TrainOptions } from '../engine/train/trainer';
import type { ScheduleKind } from '../engine/train/schedule';
import type { MemoryEstimate } from '../engine/model/memory';
import type { KernelMode } from '../../kernels/mode';
import type { PrecisionChoice } from '../../kernels/precision';
import type { JobFile } from '../engine/job/job';

export type { BackendInfo, BackendName, DownloadProgress, ModelSummary, LoraConfig, DataCounts, FileReport };
export type { JobFile };
export type { ColumnMapping, DatasetFormat, PromptTemplate, DataIssue, TrainEvent, TrainPhase, TrainCheckpoint, ScheduleKind, MemoryEstimate };

export type BackendChoice = BackendName | 'auto';
/** WebGPU's hot loop: WebLoRA's fused WGSL kernels (default) or stock TF.js ops. */
export type KernelChoice = KernelMode;
/** The frozen base: float32 (default), float16 (WebGPU with shader-f16), or f16 where it runs. */
export type { PrecisionChoice } from '../../kernels/precision';

/** What went wrong, in categories the UI can explain and act on. */
export type ErrorKind =
  | 'model-source' // missing/corrupt model files, hub 404, network
  | 'unsupported-model' // a config.json the engine cannot run
  | 'dataset' // the dataset could not be read at all
  | 'dataset-format' // no format detected: a column mapping is needed
  | 'bad-adapter' // an adapter that does not fit the model
  | 'oom' // out of (GPU) memory
  | 'device-lost' // the GPU device was lost
  | 'diverged' // training hit a NaN or infinite loss or gradient and stopped
  | 'cancelled'
  | 'not-ready' // an operation that needs a model / data / adapter first
  | 'busy' // another operation is running
  | 'internal';

export interface EngineFailure {
  kind: ErrorKind;
  /** What happened, one or two sentences. */
  message: string;
  /** What to do about it. */
  hint: string;
  /** Extra data for the UI, e.g. the dataset's keys for a column mapping. */
  keys?: string[];
}

/** Errors cross the Comlink boundary as Error objects with this name and an EngineFailure as JSON message. */
export const FAILURE_NAME = 'WebLoRAError';

export type ModelSource =
  | { kind: 'hub'; repoId: string; revision: string; host: string }
  | { kind: 'files'; name: string; fileNames: string[] };

export interface ModelInfo extends ModelSummary {
  source: ModelSource;
  /** The prompt template 'auto' resolves to for this tokenizer. */
  defaultTemplate: PromptTemplate;
  /** Bytes of model.safetensors. */
  weightsBytes: number;
  loadMs: number;
}

export interface HubRequest {
  repoId: string;
  revision: string;
  host: string;
}

export interface DataInput {
  name: string;
  text: string;
}

export interface DataOptions {
  format: 'auto' | DatasetFormat;
  columns?: ColumnMapping;
  template: 'auto' | PromptTemplate;
  trainOn: 'responses' | 'all';
  maxLength: number;
  valFraction: number;
  seed: number;
}

export const DEFAULT_DATA_OPTIONS: DataOptions = {
  format: 'auto',
  template: 'auto',
  trainOn: 'responses',
  maxLength: 256,
  valFraction: 0.1,
  seed: 0,
};

export interface TokenPiece {
  text: string;
  id: number;
  /** A trained target (its loss counts). */
  trained: boolean;
}

export interface PreviewExample {
  file: string;
  line: number;
  tokens: TokenPiece[];
  truncated: boolean;
}

export interface ValPrompt {
  index: number;
  line: number;
  /** The user's request as written in the dataset. */
  instruction: string;
  /** The dataset's answer. */
  reference: string;
}

export interface Histogram {
  /** bins[i] counts lengths in [edges[i], edges[i + 1]). */
  edges: number[];
  counts: number[];
  min: number;
  max: number;
  median: number;
  mean: number;
}

export interface IssueList {
  total: number;
  /** The first few hundred. */
  items: DataIssue[];
}

export interface DataSummary {
  name: string;
  /** False when no model is loaded yet: formats and bad lines only, no tokens. */
  tokenized: boolean;
  files: FileReport[];
  /** Counts; the token-level ones are 0 until tokenized. */
  counts: DataCounts;
  template: PromptTemplate | null;
  issues: IssueList;
  dropped: IssueList;
  truncated: IssueList;
  warnings: IssueList;
  histogram: Histogram | null;
  preview: PreviewExample[];
  valPrompts: ValPrompt[];
  prepareMs: number;
}

/**
 * A run as the UI defines it: the Trainer's own options (all of them set; the dataset gives the
 * max length and the tokenizer the pad id), the adapter, and whether to evaluate first.
 */
export interface TrainConfig extends Required<Omit<TrainOptions, 'padId' | 'maxLength' | 'packing' | 'tuneKernels'>> {
  lora: LoraConfig;
  /** 'current': keep training the adapter the worker holds (imported or trained before). */
  init: 'new' | 'current';
  /** Measure the base model's validation loss before the first step. */
  evalBase: boolean;
}

export interface TrainPlan {
  totalSteps: number;
  stepsPerEpoch: number;
  trainExamples: number;
  valExamples: number;
  /** Real tokens in one epoch, and padded tokens (what the GPU computes). */
  tokensPerEpoch: number;
  paddedTokensPerEpoch: number;
  memory: MemoryEstimate & { loraParameters: number };
  /** Rough cost of one epoch: 6 · params · padded tokens (forward + backward), for the time estimate. */
  flopsPerEpoch: number;
  /** Rough cost of the run's evaluations (the base model's, periodic, final): 2 · params · padded tokens each. */
  evalFlops: number;
  /** What to know before starting: a rank above a module's smaller side, a max length beyond the model's context. */
  warnings: string[];
}

/** A checkpoint's arrays, to move (not copy) it across the worker boundary with Comlink.transfer. */
export function checkpointBuffers(cp: TrainCheckpoint): ArrayBuffer[] {
  return [...Object.values(cp.adapter), ...cp.optimizer.m, ...cp.optimizer.v].map((a) => a.buffer as ArrayBuffer);
}

/** Train events as the UI receives them: the checkpoint event carries plain arrays too. */
export type UiTrainEvent =
  | TrainEvent;

export interface TrainResult {
  steps: number;
  cancelled: boolean;
  losses: number[];
}

export interface SamplingSettings {
  greedy: boolean;
  temperature: number;
  topP: number;
  topK: number;
  repetitionPenalty: number;
  maxNewTokens: number;
  seed: number;
}

export const DEFAULT_SAMPLING: SamplingSettings = {
  greedy: true,
  temperature: 0.8,
  topP: 0.9,
  topK: 0,
  repetitionPenalty: 1,
  maxNewTokens: 64,
  seed: 0,
};

export type PromptSpec =
  | { kind: 'instruction'; text: string }
  | { kind: 'raw'; text: string }
  | { kind: 'validation'; index: number };

export type Which = 'base' | 'tuned';

export interface GenerateRequest {
  prompt: PromptSpec;
  models: Which[];
  sampling: SamplingSettings;
}

/** A piece of streamed text for one column. */
export interface TextDelta {
  which: Which;
  text: string;
  /** The batched generation it comes from (both columns' deltas share one). */
  generation: number;
}

export interface GenerationOutput {
  which: Which;
  text: string;
  tokens: number;
  finishReason: string;
  /** From the start of the generation to this column's last token. */
  ms: number;
  /** The batched generation that wrote it, and how many rows it ran (2: base and tuned together). */
  generation: number;
  rows: number;
}

export interface BatchRow {
  index: number;
  line: number;
  instruction: string;
  reference: string;
  baseLoss: number;
  tunedLoss: number | null;
  base: string;
  tuned: string | null;
}

export type AdapterInfo = AdapterSummary;

export interface ExportedFile {
  name: string;
  bytes: Uint8Array;
}

export interface AdapterExport {
  config: string;
  weights: Uint8Array;
  /** SHA-256 (hex) of each file, computed in the worker from the bytes the engine wrote. */
  sha256: { config: string; weights: string };
}

export interface WorkerHooks {
  /** Something broke that the current operation cannot report (device lost, GPU errors). */
  onFatal(failure: EngineFailure): void;
}

export interface WorkerApi {
  init(prefer: BackendChoice, hooks: WorkerHooks, kernels?: KernelChoice, precision?: PrecisionChoice): Promise<BackendInfo>;
  ping(): Promise<number>;

  loadFromHub(req: HubRequest, onProgress: (p: DownloadProgress) => void): Promise<ModelInfo>;
  loadFromFiles(files: File[]): Promise<ModelInfo>;
  cancelLoad(): Promise<void>;

  memoryEstimate(lora: Pick<LoraConfig, 'r' | 'targetModules'>, batchSize: number, seqLen: number): Promise<MemoryEstimate & { loraParameters: number }>;
  prepareData(input: DataInput, opts: DataOptions, onProgress?: (done: number, total: number) => void): Promise<DataSummary>;
  planTraining(cfg: TrainConfig): Promise<TrainPlan>;

  train(cfg: TrainConfig, onEvents: (events: UiTrainEvent[]) => void, resumeFrom?: TrainCheckpoint): Promise<TrainResult>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;

  /**
   * The requested models as rows of one batched generation (same prompt, sampling and seed), their
   * text streamed through `onText` as tokens arrive, the columns' deltas interleaved; every delta
   * has been delivered before the result resolves.
   */
  generate(req: GenerateRequest, onText: (deltas: TextDelta[]) => void): Promise<GenerationOutput[]>;
  /** Up to `limit` validation examples, several prompts (base and tuned rows each) per batched generation. */
  evaluateValidation(
    sampling: SamplingSettings,
    limit: number,
    onRow: (row: BatchRow) => void,
  ): Promise<{ baseLoss: number; tunedLoss: number | null; rows: number }>;
  stopGenerate(): Promise<void>;

  adapterInfo(): Promise<AdapterInfo | null>;
  exportAdapter(): Promise<AdapterExport>;
  exportMerged(): Promise<ExportedFile[]>;
  importAdapter(files: { config: string; weights: Uint8Array }): Promise<AdapterInfo>;
  /** The run as a Hugging Face job for GPU servers (src/engine/job): the files, as `weblora export-job` writes them. */
  exportJob(input: DataInput, opts: DataOptions, cfg: TrainConfig): Promise<JobFile[]>;
}
