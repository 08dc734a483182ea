// The dataset: read as text on this thread (it is also stored with each run), prepared by the
// worker with the loaded model's tokenizer (or only parsed, before a model is loaded).
import * as Comlink from 'comlink';
import { engine } from '../engine-instance';
import { failureOf } from '../engine';
import { notify, patch, useStore } from '../store';
import { uiError } from '../errors';
import type { DataInput, DataOptions } from '../../worker/api';
import { refreshMemory, refreshPlan } from '../train/plan';

const MAX_DATASET_BYTES = 512 * 1024 * 1024;

export async function openDatasetFile(file: File): Promise<void> {
  if (file.size > MAX_DATASET_BYTES) {
    patch('data', {
      status: 'error',
      error: { kind: 'dataset', title: 'This file is too large', message: `${file.name} is ${Math.round(file.size / 1e6)} MB.`, hint: 'Use a dataset under 512 MB.' },
    });
    return;
  }
  let text: string;
  try {
    text = await file.text();
  } catch (e) {
    patch('data', { status: 'error', error: { kind: 'dataset', title: 'The file could not be read', message: String(e), hint: 'Choose the file again.' } });
    return;
  }
  await setDataset({ name: file.name, text });
}

export async function openSampleDataset(): Promise<void> {
  patch('data', { status: 'loading', error: null });
  try {
    const res = await fetch(new URL('sample-instruct.jsonl', document.baseURI));
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    await setDataset({ name: 'sample-instruct.jsonl', text: await res.text() });
  } catch (e) {
    patch('data', {
      status: 'error',
      error: { kind: 'dataset', title: 'The sample dataset could not be fetched', message: e instanceof Error ? e.message : String(e), hint: 'Check that the site is served with its public files.' },
    });
  }
}

export async function setDataset(input: DataInput, options?: Partial<DataOptions>): Promise<boolean> {
  const current = useStore.getState().data.options;
  // A new file gets detection again; its own column mapping is chosen after.
  const next: DataOptions = options ? { ...current, ...options } : { ...current, format: 'auto', columns: undefined };
  patch('data', { input, options: next });
  return prepareData();
}

const TITLES: Partial<Record<string, string>> = {
  dataset: 'This file holds no training records',
  'dataset-format': 'The dataset format was not recognised',
};

let seq = 0;
/** The dataset whose bad lines were announced (re-preparing it says nothing new). */
let warnedFor: DataInput | null = null;

export async function prepareData(): Promise<boolean> {
  const { input, options } = useStore.getState().data;
  if (!input) return false;
  const mine = ++seq;
  patch('data', { status: 'loading', error: null, progress: null });
  try {
    const summary = await engine.call((api) =>
      api.prepareData(input, options, Comlink.proxy((done: number, total: number) => {
        if (mine === seq) patch('data', { progress: [done, total] });
      })),
    );
    if (mine !== seq) return false;
    patch('data', { status: 'ready', summary, error: null, progress: null });
    // Compare offers the first held-out example, unless the user typed a prompt of their own.
    const c = useStore.getState().compare;
    const wasPicked = c.prompt === '' || c.valIndex !== null;
    const first = summary.valPrompts[0];
    if (wasPicked) patch('compare', first ? { valIndex: first.index, prompt: first.instruction } : { valIndex: null, prompt: '' });
    else patch('compare', { valIndex: null });
    if (summary.tokenized) {
      void refreshPlan();
      void refreshMemory();
    }
    if (summary.issues.total > 0 && warnedFor !== input) {
      warnedFor = input;
      notify({ tone: 'warning', title: `${summary.issues.total} bad line${summary.issues.total === 1 ? '' : 's'} skipped`, message: 'They are listed by line number in the Data panel; the rest is used.' });
    }
    return true;
  } catch (e) {
    if (mine !== seq) return false;
    const f = failureOf(e);
    // A file that could not be read, or whose format is unknown, has no summary: never show the last file's.
    const unread = f.kind === 'dataset' || f.kind === 'dataset-format';
    patch('data', { status: 'error', error: uiError(TITLES[f.kind] ?? 'The dataset could not be prepared', e), summary: unread ? null : useStore.getState().data.summary });
    return false;
  }
}

let timer: ReturnType<typeof setTimeout> | null = null;

/** Changes options and prepares again after a short pause (typing in number fields). */
export function setDataOptions(p: Partial<DataOptions>, immediate = false): void {
  patch('data', { options: { ...useStore.getState().data.options, ...p } });
  if (timer) clearTimeout(timer);
  if (!useStore.getState().data.input) return;
  timer = setTimeout(() => void prepareData(), immediate ? 0 : 400);
}

export function clearDataset(): void {
  seq++;
  patch('data', { status: 'empty', input: null, summary: null, error: null, progress: null });
  patch('train', { plan: null });
}
