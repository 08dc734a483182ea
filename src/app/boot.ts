// Starting the engine, and what the UI does when it dies: tell the user, start a new worker,
// load the model and dataset again, and leave the interrupted run resumable.
import { engine, handlers } from './engine-instance';
import { isTraining, notify, patch, quietly, useStore } from './store';
import type { BackendChoice, EngineFailure, KernelChoice, PrecisionChoice } from '../worker/api';
import { PRECISION_CHOICES } from '../../kernels/precision';
import { reloadModel } from './model/actions';
import { initRuns, refreshRuns } from './runs/list';

let pendingRecovery: EngineFailure | null = null;

handlers.onReady = (backend, restarted) => {
  patch('engine', { status: 'ready', backend, error: null, unresponsiveSince: null });
  if (restarted) void recover();
};

handlers.onStartFailed = (f) => {
  patch('engine', {
    status: 'failed',
    error: { ...f, title: 'The engine could not start', hint: f.hint || 'Try another backend from the backend menu.' },
  });
};

handlers.onCrash = (f) => {
  pendingRecovery = f;
  patch('engine', { status: 'restarting', unresponsiveSince: null, restarts: useStore.getState().engine.restarts + 1 });
  const t = useStore.getState().train;
  if (isTraining()) {
    patch('train', {
      status: 'failed',
      error: {
        ...f,
        title: 'Training was interrupted',
        hint: t.checkpointStep ? `Resume it from its checkpoint at step ${t.checkpointStep} in the Runs panel.` : 'Start it again; it had no checkpoint yet.',
      },
    });
  }
  if (useStore.getState().compare.running) patch('compare', { running: false });
};

handlers.onFatal = (f) => {
  notify({ tone: 'error', title: f.kind === 'device-lost' ? 'The GPU device was lost' : 'The engine reported a problem', message: f.message, hint: f.hint });
};

handlers.onResponsive = (since) => {
  patch('engine', { unresponsiveSince: since });
};

async function recover(): Promise<void> {
  const why = pendingRecovery;
  pendingRecovery = null;
  const hadModel = !!useStore.getState().model.info;
  useStore.setState({ adapter: null });
  patch('model', { status: hadModel ? 'loading' : 'empty' });
  notify(
    {
      tone: 'error',
      title: why ? 'The engine stopped and was restarted' : 'The engine was restarted',
      message: `${why ? `${why.message} ` : ''}${hadModel ? 'The model and dataset are being loaded again.' : ''}`,
      hint: 'An adapter that was only in memory is gone; runs are saved with their checkpoints (Runs panel).',
    },
    why ? 0 : 8000,
  );
  if (hadModel) {
    const ok = await quietly(reloadModel);
    if (!ok && useStore.getState().model.status !== 'error') patch('model', { status: 'empty', info: null });
  }
  await refreshRuns();
}

const BACKENDS: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm', 'cpu'];
const KERNELS: readonly KernelChoice[] = ['fused', 'stock'];

function oneOf<T extends string>(value: string | null, allowed: readonly T[]): T | null {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : null;
}

/** The user's backend menu choices, kept across reloads (a URL parameter overrides them once). */
function saved<T extends string>(key: string, allowed: readonly T[]): T | null {
  try {
    return oneOf(localStorage.getItem(key), allowed);
  } catch {
    return null;
  }
}

function remember(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* storage refused: the choice lasts until the page closes */
  }
}

export function startEngine(prefer: BackendChoice = 'auto', kernels: KernelChoice = 'fused', precision: PrecisionChoice = 'fp32'): void {
  patch('engine', { status: 'starting', prefer, kernels, precision });
  engine.kernels = kernels;
  engine.precision = precision;
  void engine.start(prefer);
}

/** Switches backend (a fresh worker), then reloads what was loaded. */
export async function switchBackend(prefer: BackendChoice): Promise<void> {
  if (isTraining()) {
    notify({ tone: 'warning', title: 'Training is running', message: 'Stop the run before switching backends.' });
    return;
  }
  remember('weblora.backend', prefer);
  patch('engine', { status: 'restarting', prefer });
  await engine.restart(prefer);
}

/**
 * A setting the worker starts with — the WebGPU kernels (fused WGSL or stock TF.js ops), the
 * frozen base's precision: a fresh worker, which loads again what was loaded.
 */
async function switchWorkerSetting<K extends 'kernels' | 'precision'>(key: K, value: (typeof engine)[K]): Promise<void> {
  if (isTraining()) {
    notify({ tone: 'warning', title: 'Training is running', message: `Stop the run before switching ${key}.` });
    return;
  }
  remember(`weblora.${key}`, value);
  patch('engine', { status: 'restarting', [key]: value });
  engine[key] = value;
  await engine.restart();
}

export const switchKernels = (kernels: KernelChoice): Promise<void> => switchWorkerSetting('kernels', kernels);
export const switchPrecision = (precision: PrecisionChoice): Promise<void> => switchWorkerSetting('precision', precision);

export async function restartEngine(): Promise<void> {
  patch('engine', { status: 'restarting' });
  await engine.restart();
}

export function boot(): void {
  const params = new URLSearchParams(location.search);
  const prefer = oneOf(params.get('backend'), BACKENDS) ?? saved('weblora.backend', BACKENDS) ?? 'auto';
  const kernels = oneOf(params.get('kernels'), KERNELS) ?? saved('weblora.kernels', KERNELS) ?? 'fused';
  const precision = oneOf(params.get('precision'), PRECISION_CHOICES) ?? saved('weblora.precision', PRECISION_CHOICES) ?? 'fp32';
  startEngine(prefer, kernels, precision);
  void initRuns();
}
