// Every training run, kept in this browser's IndexedDB: the run record (config, data summary,
// loss history) and, in their own stores so that listing runs stays cheap, the dataset text,
// the latest resumable checkpoint and the final adapter.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { DataCounts, DataOptions, ModelSource, PromptTemplate, TrainCheckpoint, TrainConfig } from '../../worker/api';
import type { EvalPoint, StepPoint } from '../store';

export type RunStatus = 'running' | 'paused' | 'done' | 'stopped' | 'failed' | 'interrupted';

export interface RunRecord {
  id: string;
  name: string;
  createdAt: number;
  updatedAt: number;
  status: RunStatus;
  /**
   * fingerprint: the model's content hash (runs saved before it existed have none); weightsSha256:
   * SHA-256 of its model.safetensors (runs saved before it existed have none).
   */
  model: { name: string; source: ModelSource; parameters: number; fingerprint?: string; weightsSha256?: string };
  data: { name: string; options: DataOptions; counts: DataCounts; format: string; template: PromptTemplate | null };
  config: TrainConfig;
  backend: string;
  /** The frozen base's precision ('fp32' or 'f16-base'); absent in runs recorded before it existed (fp32). */
  precision?: string;
  totalSteps: number;
  step: number;
  points: StepPoint[];
  evals: EvalPoint[];
  baseEval: number | null;
  checkpointStep: number | null;
  hasAdapter: boolean;
  error?: string;
}

interface Schema extends DBSchema {
  runs: { key: string; value: RunRecord; indexes: { updatedAt: number } };
  datasets: { key: string; value: { text: string } };
  checkpoints: { key: string; value: TrainCheckpoint };
  adapters: { key: string; value: { config: string; weights: Uint8Array } };
}

let dbPromise: Promise<IDBPDatabase<Schema>> | null = null;

function db(): Promise<IDBPDatabase<Schema>> {
  dbPromise ??= openDB<Schema>('weblora', 1, {
    upgrade(d) {
      const runs = d.createObjectStore('runs', { keyPath: 'id' });
      runs.createIndex('updatedAt', 'updatedAt');
      d.createObjectStore('datasets');
      d.createObjectStore('checkpoints');
      d.createObjectStore('adapters');
    },
  });
  return dbPromise;
}

export async function listRuns(): Promise<RunRecord[]> {
  const all = await (await db()).getAll('runs');
  return all.sort((a, b) => b.createdAt - a.createdAt);
}

export async function putRun(run: RunRecord): Promise<void> {
  await (await db()).put('runs', { ...run, updatedAt: Date.now() });
}

export async function createRun(run: RunRecord, datasetText: string): Promise<void> {
  const d = await db();
  const tx = d.transaction(['runs', 'datasets'], 'readwrite');
  await Promise.all([tx.objectStore('runs').put(run), tx.objectStore('datasets').put({ text: datasetText }, run.id), tx.done]);
}

export async function getDataset(id: string): Promise<string | undefined> {
  return (await (await db()).get('datasets', id))?.text;
}

export async function putCheckpoint(id: string, cp: TrainCheckpoint): Promise<void> {
  await (await db()).put('checkpoints', cp, id);
}

export async function getCheckpoint(id: string): Promise<TrainCheckpoint | undefined> {
  return (await db()).get('checkpoints', id);
}

export async function putAdapter(id: string, files: { config: string; weights: Uint8Array }): Promise<void> {
  await (await db()).put('adapters', { config: files.config, weights: files.weights }, id);
}

export async function getAdapter(id: string): Promise<{ config: string; weights: Uint8Array } | undefined> {
  return (await db()).get('adapters', id);
}

export async function deleteRun(id: string): Promise<void> {
  const d = await db();
  const tx = d.transaction(['runs', 'datasets', 'checkpoints', 'adapters'], 'readwrite');
  await Promise.all([
    tx.objectStore('runs').delete(id),
    tx.objectStore('datasets').delete(id),
    tx.objectStore('checkpoints').delete(id),
    tx.objectStore('adapters').delete(id),
    tx.done,
  ]);
}

/** Runs left 'running' or 'paused' by a page that is gone are interrupted: resumable from their checkpoint. */
export async function markInterrupted(): Promise<void> {
  const d = await db();
  for (const run of await d.getAll('runs')) {
    if (run.status === 'running' || run.status === 'paused') await d.put('runs', { ...run, status: 'interrupted' });
  }
}

export function newRunId(): string {
  return `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}
