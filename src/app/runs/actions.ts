// The runs kept in IndexedDB: listing, opening (history + adapter), resuming an interrupted run
// from its last checkpoint (same model, same dataset text and options), deleting.
import { engine } from '../engine-instance';
import { failureOf } from '../engine';
import { isTraining, notify, patch, showPanel, useStore } from '../store';
import * as db from './db';
import { zipAdapter } from '../export/zip';
import { download, fileStem } from '../util/download';
import { loadFromHub } from '../model/actions';
import { setDataset } from '../data/actions';
import { startTraining, viewRun } from '../train/actions';
import { refreshAdapter } from '../adapter';
import { refreshRuns } from './list';
import { runFromTrainLog } from './import-log';
import { setTrainConfig } from '../train/plan';

/** The loaded model is the run's: by content, however either was loaded (folder, files, hub). */
function sameModel(run: db.RunRecord): boolean {
  const info = useStore.getState().model.info;
  if (!info) return false;
  // The whole weights when both were hashed: the fingerprint samples them, so two fine-tunes of one
  // model that differ only where it does not look would pass it.
  if (run.model.weightsSha256 && info.weightsSha256) return info.weightsSha256 === run.model.weightsSha256;
  if (run.model.fingerprint) return info.fingerprint === run.model.fingerprint;
  // Runs saved before models had fingerprints: the hub repo, or the same name from disk.
  const a = info.source;
  const b = run.model.source;
  if (a.kind === 'hub' && b.kind === 'hub') return a.repoId === b.repoId && a.revision === b.revision;
  return info.name === run.model.name && a.kind === b.kind;
}

/** Loads the run's model when it can (hub runs); says what to do when it cannot. */
async function ensureModel(run: db.RunRecord): Promise<boolean> {
  if (sameModel(run) && useStore.getState().model.status === 'ready') return true;
  const src = run.model.source;
  if (src.kind === 'hub') {
    notify({ tone: 'info', title: `Loading ${src.repoId}`, message: 'The run needs the model it was trained on.' });
    return (await loadFromHub({ repoId: src.repoId, revision: src.revision, host: src.host })) !== null;
  }
  const loaded = useStore.getState().model.info;
  notify({
    tone: 'warning',
    title: `Load the model “${run.model.name}” first`,
    message: `${loaded ? `The loaded model (${loaded.name}) is not the one this run was trained on. ` : ''}This run's model was loaded from this computer: load the same model files (a folder or the files themselves) in the Model panel, then try again.`,
  });
  showPanel('model');
  return false;
}

export async function openRunAdapter(run: db.RunRecord): Promise<void> {
  if (isTraining()) return;
  if (!(await ensureModel(run))) return;
  const files = await db.getAdapter(run.id);
  if (!files) {
    notify({ tone: 'warning', title: 'This run has no saved adapter', message: 'Only finished or stopped runs save one.' });
    return;
  }
  try {
    await engine.call((api) => api.importAdapter(files));
    await refreshAdapter();
    viewRun(run);
    notify({ tone: 'success', title: 'Adapter loaded', message: `The adapter of “${run.name}” is active: compare it, export it or keep training it.` });
  } catch (e) {
    const f = failureOf(e);
    notify({ tone: 'error', title: 'The adapter could not be loaded', message: f.message, hint: f.hint });
  }
}

export async function resumeRun(run: db.RunRecord): Promise<void> {
  if (isTraining()) {
    notify({ tone: 'warning', title: 'A run is already training' });
    return;
  }
  const checkpoint = await db.getCheckpoint(run.id);
  if (!checkpoint) {
    notify({ tone: 'warning', title: 'No checkpoint to resume from', message: 'This run stopped before its first checkpoint. Start a new run instead.' });
    return;
  }
  const text = await db.getDataset(run.id);
  if (text === undefined) {
    notify({ tone: 'error', title: 'The run’s dataset is missing from storage' });
    return;
  }
  if (!(await ensureModel(run))) return;
  if (!(await setDataset({ name: run.data.name, text }, run.data.options))) {
    notify({ tone: 'error', title: 'The run’s dataset could not be prepared again' });
    return;
  }
  showPanel('train');
  await startTraining({ run, checkpoint });
}

/**
 * A finished or stopped run trained further: its adapter loaded, its settings in the Train panel
 * with "start from the current adapter" (a fresh optimizer; the step count starts again).
 */
export async function continueRun(run: db.RunRecord): Promise<void> {
  if (isTraining()) return;
  await openRunAdapter(run);
  if (useStore.getState().adapter === null) return;
  setTrainConfig({ ...structuredClone(run.config), init: 'current' });
  showPanel('train');
  notify({ tone: 'info', title: 'Ready to continue', message: `Training starts from the adapter of “${run.name}”. Set the steps or epochs to add, then Start training.` });
}

/**
 * A run trained elsewhere (a GPU job, the CLI), from its train_log.json, with the adapter just
 * imported: saved beside this browser's runs and shown (loss curve, settings).
 */
export async function saveImportedRun(logText: string, adapter: { config: string; weights: Uint8Array }): Promise<db.RunRecord> {
  const info = useStore.getState().model.info;
  if (!info) throw new Error('no model is loaded');
  const run = runFromTrainLog(logText, info, db.newRunId(), Date.now());
  await db.putRun(run);
  await db.putAdapter(run.id, adapter);
  await refreshRuns();
  viewRun(run);
  return run;
}

export async function removeRun(run: db.RunRecord): Promise<void> {
  if (useStore.getState().train.runId === run.id && isTraining()) return;
  await db.deleteRun(run.id);
  if (useStore.getState().train.viewing?.runId === run.id) patch('train', { viewing: null });
  await refreshRuns();
}

export async function downloadRunAdapter(run: db.RunRecord): Promise<void> {
  const files = await db.getAdapter(run.id);
  if (!files) return;
  // stories260K-sample-instruct-run1-lora-adapter.zip
  const number = /^Run (\d+)/.exec(run.name)?.[1];
  download(`${fileStem(run.model.name, run.data.name, number ? `run${number}` : '')}-lora-adapter.zip`, zipAdapter(files), 'application/zip');
}
