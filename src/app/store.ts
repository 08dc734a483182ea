// The whole UI state in one zustand store. Panels read slices with selectors; actions
// (actions/*.ts) talk to the worker and write here. Nothing in here is a tensor.
import { create } from 'zustand';
import {
  DEFAULT_DATA_OPTIONS,
  DEFAULT_SAMPLING,
  type AdapterInfo,
  type BackendChoice,
  type KernelChoice,
  type PrecisionChoice,
  type BackendInfo,
  type BatchRow,
  type DataInput,
  type DataOptions,
  type DataSummary,
  type EngineFailure,
  type MemoryEstimate,
  type ModelInfo,
  type SamplingSettings,
  type TrainConfig,
  type TrainPhase,
  type TrainPlan,
  type Which,
} from '../worker/api';
import { DEFAULT_PRESET, TRAIN_PRESETS } from './train/presets';
import type { RunRecord } from './runs/db';

export type PanelId = 'model' | 'data' | 'train' | 'compare' | 'export' | 'runs';
export const PANELS: { id: PanelId; label: string }[] = [
  { id: 'model', label: 'Model' },
  { id: 'data', label: 'Data' },
  { id: 'train', label: 'Train' },
  { id: 'compare', label: 'Compare' },
  { id: 'export', label: 'Export' },
  { id: 'runs', label: 'Runs' },
];

export type UiError = EngineFailure & { title: string };

export interface Notice {
  id: number;
  tone: 'info' | 'success' | 'warning' | 'error';
  title: string;
  message?: string;
  hint?: string;
}

export interface FileProgress {
  loaded: number;
  total: number;
  done: boolean;
}

export interface StepPoint {
  step: number;
  loss: number;
  lr: number;
  tokensPerSec: number;
  gradNorm: number;
  elapsedMs: number;
}

export interface EvalPoint {
  step: number;
  valLoss: number;
}

export type TrainStatus = 'idle' | 'starting' | 'running' | 'pausing' | 'paused' | 'stopping' | 'done' | 'stopped' | 'failed';

/** What a running run is doing, and how far along that is (batches, steps or measurements). */
export interface PhaseProgress {
  phase: TrainPhase;
  done: number;
  total: number;
}

export interface OutputState {
  text: string;
  status: 'idle' | 'running' | 'done' | 'error';
  tokens: number;
  ms: number;
  finishReason: string;
  /** The batched generation that wrote it and its number of rows (base and tuned run as one). */
  generation?: number;
  rows?: number;
}

const emptyOutput = (): OutputState => ({ text: '', status: 'idle', tokens: 0, ms: 0, finishReason: '' });

export interface AppState {
  panel: PanelId;
  engine: {
    status: 'starting' | 'ready' | 'failed' | 'restarting';
    prefer: BackendChoice;
    kernels: KernelChoice;
    precision: PrecisionChoice;
    backend: BackendInfo | null;
    error: UiError | null;
    /** The worker has not answered a ping since this time (ms since epoch), or null. */
    unresponsiveSince: number | null;
    restarts: number;
  };
  model: {
    status: 'empty' | 'loading' | 'ready' | 'error';
    repoId: string;
    revision: string;
    host: string;
    progress: { files: Record<string, FileProgress>; totalLoaded: number; totalBytes: number } | null;
    /** 'hub' while downloading from the hub, 'files' while reading dropped files. */
    loadingFrom: 'hub' | 'files' | null;
    info: ModelInfo | null;
    error: UiError | null;
    /** The files of a model loaded from disk, to load it again after an engine restart. */
    files: File[] | null;
    memory: (MemoryEstimate & { loraParameters: number }) | null;
  };
  data: {
    status: 'empty' | 'loading' | 'ready' | 'error';
    input: DataInput | null;
    options: DataOptions;
    summary: DataSummary | null;
    error: UiError | null;
    progress: [number, number] | null;
  };
  train: {
    config: TrainConfig;
    preset: string;
    plan: TrainPlan | null;
    status: TrainStatus;
    phase: PhaseProgress | null;
    runId: string | null;
    /** The run whose history is on the charts (the current one, or one opened from Runs). */
    viewing: { runId: string; name: string; status?: string } | null;
    totalSteps: number;
    step: number;
    points: StepPoint[];
    evals: EvalPoint[];
    baseEval: number | null;
    log: string[];
    /** Time still to come, as the engine measured it; null until the first step is timed. */
    etaMs: number | null;
    elapsedMs: number;
    /** When elapsedMs and etaMs were reported (Date.now()), so the clock runs between events. */
    clockAt: number;
    checkpointStep: number | null;
    error: UiError | null;
    /** Measured FLOP/s of the last run on this backend, for better time estimates. */
    measuredFlops: number | null;
  };
  adapter: AdapterInfo | null;
  compare: {
    prompt: string;
    valIndex: number | null;
    useTemplate: boolean;
    sampling: SamplingSettings;
    running: boolean;
    outputs: Record<Which, OutputState>;
    error: UiError | null;
    batch: {
      running: boolean;
      limit: number;
      rows: BatchRow[];
      summary: { baseLoss: number; tunedLoss: number | null; rows: number } | null;
    };
  };
  exports: {
    busy: string | null;
    sha256: { config: string; weights: string } | null;
    error: UiError | null;
  };
  runs: { loaded: boolean; list: RunRecord[] };
  notices: Notice[];
}

const savedHost = () => {
  try {
    return localStorage.getItem('weblora.hubHost') || 'https://huggingface.co';
  } catch {
    return 'https://huggingface.co';
  }
};
const savedRepo = () => {
  try {
    return localStorage.getItem('weblora.repoId') || 'HuggingFaceTB/SmolLM2-135M-Instruct';
  } catch {
    return 'HuggingFaceTB/SmolLM2-135M-Instruct';
  }
};

export const useStore = create<AppState>(() => ({
  panel: 'model',
  engine: { status: 'starting', prefer: 'auto', kernels: 'fused', precision: 'fp32', backend: null, error: null, unresponsiveSince: null, restarts: 0 },
  model: {
    status: 'empty',
    repoId: savedRepo(),
    revision: 'main',
    host: savedHost(),
    progress: null,
    loadingFrom: null,
    info: null,
    error: null,
    files: null,
    memory: null,
  },
  data: { status: 'empty', input: null, options: { ...DEFAULT_DATA_OPTIONS }, summary: null, error: null, progress: null },
  train: {
    config: structuredClone(TRAIN_PRESETS[DEFAULT_PRESET]!.config),
    preset: DEFAULT_PRESET,
    plan: null,
    status: 'idle',
    phase: null,
    runId: null,
    viewing: null,
    totalSteps: 0,
    step: 0,
    points: [],
    evals: [],
    baseEval: null,
    log: [],
    etaMs: null,
    elapsedMs: 0,
    clockAt: 0,
    checkpointStep: null,
    error: null,
    measuredFlops: null,
  },
  adapter: null,
  compare: {
    prompt: '',
    valIndex: null,
    useTemplate: true,
    sampling: { ...DEFAULT_SAMPLING },
    running: false,
    outputs: { base: emptyOutput(), tuned: emptyOutput() },
    error: null,
    batch: { running: false, limit: 10, rows: [], summary: null },
  },
  exports: { busy: null, sha256: null, error: null },
  runs: { loaded: false, list: [] },
  notices: [],
}));

export { emptyOutput };

/** Shallow-merges into one slice: patch('model', { status: 'ready' }). */
export function patch<K extends keyof AppState>(key: K, value: Partial<AppState[K]>): void {
  useStore.setState((s) => ({ [key]: { ...(s[key] as object), ...value } }) as Partial<AppState>);
}

let noticeId = 0;
let quiet = 0;

/** Runs `fn` without its success/info notices (e.g. while reloading after a restart). */
export async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  quiet++;
  try {
    return await fn();
  } finally {
    quiet--;
  }
}

export function notify(n: Omit<Notice, 'id'>, timeoutMs = n.tone === 'error' ? 0 : 6000): number {
  if (quiet > 0 && (n.tone === 'success' || n.tone === 'info')) return 0;
  const id = ++noticeId;
  // A newer notice replaces one with the same title; at most three stay on screen.
  useStore.setState((s) => ({ notices: [...s.notices.filter((x) => x.title !== n.title).slice(-2), { ...n, id }] }));
  if (timeoutMs > 0) setTimeout(() => dismiss(id), timeoutMs);
  return id;
}

export function dismiss(id: number): void {
  useStore.setState((s) => ({ notices: s.notices.filter((n) => n.id !== id) }));
}

export function showPanel(panel: PanelId): void {
  useStore.setState({ panel });
}

/** A run is under way (starting, running, paused, or on its way to a stop or pause). */
export function isTraining(): boolean {
  const s = useStore.getState().train.status;
  return s === 'starting' || s === 'running' || s === 'pausing' || s === 'paused' || s === 'stopping';
}
