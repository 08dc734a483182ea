// Loading a model: from the hub (through the worker's transformers.js download, with
// progress) or from files chosen or dropped from disk.
import * as Comlink from 'comlink';
import { engine } from '../engine-instance';
import { failureOf } from '../engine';
import { notify, patch, useStore } from '../store';
import { uiError } from '../errors';
import type { DownloadProgress, ModelInfo } from '../../worker/api';
import { prepareData } from '../data/actions';
import { refreshMemory } from '../train/plan';
import { count } from '../util/format';

export const HUB_PRESETS = [
  { label: 'SmolLM2-135M', repoId: 'HuggingFaceTB/SmolLM2-135M', size: '≈270 MB' },
  { label: 'SmolLM2-135M-Instruct', repoId: 'HuggingFaceTB/SmolLM2-135M-Instruct', size: '≈270 MB' },
  { label: 'SmolLM2-360M', repoId: 'HuggingFaceTB/SmolLM2-360M', size: '≈720 MB' },
  { label: 'Qwen2.5-0.5B', repoId: 'Qwen/Qwen2.5-0.5B', size: '≈990 MB' },
  { label: 'Qwen2.5-0.5B-Instruct', repoId: 'Qwen/Qwen2.5-0.5B-Instruct', size: '≈990 MB' },
  // Google's own repos are gated: the hub serves them once the Gemma license is accepted there.
  { label: 'Gemma 3 270M', repoId: 'google/gemma-3-270m', size: '≈540 MB' },
  { label: 'Gemma 3 270M-it', repoId: 'google/gemma-3-270m-it', size: '≈540 MB' },
] as const;

function remember(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* private mode: fine */
  }
}

function busyTraining(): boolean {
  const s = useStore.getState().train.status;
  return s === 'running' || s === 'paused' || s === 'pausing' || s === 'starting' || s === 'stopping';
}

export async function loadFromHub(req?: { repoId: string; revision: string; host: string }): Promise<ModelInfo | null> {
  if (busyTraining()) {
    notify({ tone: 'warning', title: 'Training is running', message: 'Stop the run before loading another model.' });
    return null;
  }
  const m = useStore.getState().model;
  const repoId = (req?.repoId ?? m.repoId).trim();
  const revision = (req?.revision ?? m.revision).trim() || 'main';
  const host = (req?.host ?? m.host).trim().replace(/\/+$/, '') || 'https://huggingface.co';
  remember('weblora.repoId', repoId);
  remember('weblora.hubHost', host);
  patch('model', { repoId, revision, host, status: 'loading', loadingFrom: 'hub', error: null, progress: { files: {}, totalLoaded: 0, totalBytes: 0 } });
  const onProgress = (p: DownloadProgress) => {
    const prev = useStore.getState().model.progress;
    patch('model', {
      progress: {
        files: { ...(prev?.files ?? {}), [p.file]: { loaded: p.loaded, total: p.total, done: p.done } },
        totalLoaded: p.totalLoaded,
        totalBytes: p.totalBytes,
      },
    });
  };
  try {
    const info = await engine.call((api) => api.loadFromHub({ repoId, revision, host }, Comlink.proxy(onProgress)));
    await modelLoaded(info, null);
    return info;
  } catch (e) {
    failed(e);
    return null;
  }
}

export async function loadFromFiles(files: File[]): Promise<ModelInfo | null> {
  if (busyTraining()) {
    notify({ tone: 'warning', title: 'Training is running', message: 'Stop the run before loading another model.' });
    return null;
  }
  if (files.length === 0) return null;
  patch('model', { status: 'loading', loadingFrom: 'files', error: null, progress: null });
  try {
    const info = await engine.call((api) => api.loadFromFiles(files));
    await modelLoaded(info, files);
    return info;
  } catch (e) {
    failed(e);
    return null;
  }
}

export async function cancelLoad(): Promise<void> {
  await engine.call((api) => api.cancelLoad()).catch(() => {});
}

function failed(e: unknown): void {
  const f = failureOf(e);
  const had = useStore.getState().model.info;
  if (f.kind === 'cancelled') {
    patch('model', { status: had ? 'ready' : 'empty', loadingFrom: null, progress: null, error: null });
    notify({ tone: 'info', title: 'Download cancelled' });
    return;
  }
  patch('model', { status: had ? 'ready' : 'error', loadingFrom: null, error: uiError('The model could not be loaded', e) });
}

async function modelLoaded(info: ModelInfo, files: File[] | null): Promise<void> {
  patch('model', { status: 'ready', loadingFrom: null, info, files, error: null });
  useStore.setState({ adapter: null });
  patch('train', { plan: null, config: { ...useStore.getState().train.config, init: 'new' } });
  notify({ tone: 'success', title: `Loaded ${info.name}`, message: `${info.family}, ${count(info.parameters)} parameters, on ${useStore.getState().engine.backend?.name ?? 'the engine'}.` });
  void refreshMemory();
  if (useStore.getState().data.input) await prepareData();
}

/** After an engine restart: load the same model again (hub cache or the same files). */
export async function reloadModel(): Promise<boolean> {
  const m = useStore.getState().model;
  if (!m.info) return false;
  const src = m.info.source;
  if (src.kind === 'hub') return (await loadFromHub({ repoId: src.repoId, revision: src.revision, host: src.host })) !== null;
  if (m.files) return (await loadFromFiles(m.files)) !== null;
  return false;
}
