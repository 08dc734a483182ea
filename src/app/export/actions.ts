// Downloads (PEFT adapter as a zip and as separate files, training config, merged model) and
// importing an adapter (two files or a zip) to compare or continue training.
import { engine } from '../engine-instance';
import { EngineError } from '../engine';
import { notify, patch, useStore } from '../store';
import { uiError } from '../errors';
import { download, fileStem, safeName } from '../util/download';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, adapterFromZip, trainLogFromZip, zipAdapter, zipFiles } from './zip';
import { saveImportedRun } from '../runs/actions';
import { TRAIN_LOG } from '../runs/import-log';
import { refreshMemory } from '../train/plan';
import { refreshAdapter } from '../adapter';
import type { AdapterExport } from '../../worker/api';

function baseName(): string {
  return safeName(useStore.getState().model.info?.name.split('/').pop() ?? 'model');
}

async function withBusy<T>(what: string, fn: () => Promise<T>): Promise<T | null> {
  patch('exports', { busy: what, error: null });
  try {
    return await fn();
  } catch (e) {
    patch('exports', { error: uiError(`${what} failed`, e) });
    return null;
  } finally {
    patch('exports', { busy: null });
  }
}

async function exported(): Promise<AdapterExport> {
  const files = await engine.call((api) => api.exportAdapter());
  patch('exports', { sha256: files.sha256 });
  return files;
}

export function trainingConfigJson(): string {
  const st = useStore.getState();
  const t = st.train;
  const run = st.runs.list.find((r) => r.id === (t.viewing?.runId ?? t.runId));
  const last = t.points.at(-1);
  return (
    JSON.stringify(
      {
        weblora: 1,
        base_model: st.model.info?.name ?? null,
        model_source: st.model.info?.source ?? null,
        backend: st.engine.backend?.name ?? null,
        dataset: st.data.input ? { name: st.data.input.name, ...st.data.options, counts: st.data.summary?.counts ?? null, template: st.data.summary?.template ?? null } : null,
        adapter: st.adapter,
        training: run?.config ?? t.config,
        result: {
          steps: t.step,
          final_train_loss: last?.loss ?? null,
          final_val_loss: t.evals.at(-1)?.valLoss ?? null,
          base_val_loss: t.baseEval,
          elapsed_ms: t.elapsedMs,
        },
        losses: t.points.map((p) => ({ step: p.step, loss: p.loss, lr: p.lr })),
        evals: t.evals,
      },
      null,
      2,
    ) + '\n'
  );
}

export function exportAdapterZip(): Promise<unknown> {
  return withBusy('Exporting the adapter', async () => {
    const files = await exported();
    download(`${baseName()}-lora-adapter.zip`, zipAdapter(files, [{ name: 'training_config.json', bytes: trainingConfigJson() }]), 'application/zip');
  });
}

export function exportAdapterFile(which: 'config' | 'weights'): Promise<unknown> {
  return withBusy('Exporting the adapter', async () => {
    const files = await exported();
    if (which === 'config') download(ADAPTER_CONFIG, files.config, 'application/json');
    else download(ADAPTER_WEIGHTS, files.weights);
  });
}

export function exportTrainingConfig(): void {
  download(`${baseName()}-training-config.json`, trainingConfigJson(), 'application/json');
}

/**
 * The run set up in the Train panel, on the dataset in the Data panel, as a Hugging Face job for
 * GPU servers (src/engine/job): the same files as `weblora export-job`, zipped. Made in the
 * worker from the dataset text the page already holds; nothing is uploaded.
 */
export function exportGpuJob(): Promise<unknown> {
  return withBusy('Exporting the job', async () => {
    const st = useStore.getState();
    const input = st.data.input;
    if (!input || !st.model.info) {
      throw new EngineError({ kind: 'not-ready', message: 'A job needs the model and the dataset.', hint: 'Load a model and choose a dataset first.' });
    }
    const files = await engine.call((api) => api.exportJob(input, st.data.options, st.train.config));
    download(`${fileStem(st.model.info.name, input.name)}-gpu-job.zip`, zipFiles(files.map((f) => ({ name: f.name, bytes: f.text }))), 'application/zip');
    notify({ tone: 'success', title: 'GPU job exported', message: 'Unzip it on the server and follow its README: pip install -r requirements.txt, then accelerate launch … train.py.' });
  });
}

export function exportMerged(): Promise<unknown> {
  return withBusy('Merging the weights', async () => {
    const files = await engine.call((api) => api.exportMerged());
    download(`${baseName()}-merged.zip`, zipFiles(files, 0), 'application/zip');
    notify({ tone: 'success', title: 'Merged model exported', message: 'A plain safetensors model folder: the base weights with the adapter folded in.' });
  });
}

export async function importAdapterFiles(list: File[]): Promise<boolean> {
  const r = await withBusy('Importing the adapter', async () => {
    let files: { config: string; weights: Uint8Array } | null = null;
    // A run's log beside the adapter (a GPU job's output, or weblora train's): the run is listed too.
    let log: string | null = null;
    const zip = list.find((f) => f.name.toLowerCase().endsWith('.zip'));
    if (zip) {
      const bytes = new Uint8Array(await zip.arrayBuffer());
      files = adapterFromZip(bytes);
      log = trainLogFromZip(bytes);
      if (!files) {
        throw new EngineError({
          kind: 'bad-adapter',
          message: `${zip.name} holds no ${ADAPTER_CONFIG} with ${ADAPTER_WEIGHTS}.`,
          hint: 'Choose the zip that “Export adapter” wrote, or the two files themselves.',
        });
      }
    } else {
      const logFile = list.find((f) => f.name === TRAIN_LOG);
      if (logFile) log = await logFile.text();
      const config = list.find((f) => f.name === ADAPTER_CONFIG) ?? list.find((f) => f.name.endsWith('.json') && f.name !== TRAIN_LOG);
      const weights = list.find((f) => f.name.endsWith('.safetensors'));
      if (!config || !weights) {
        patch('exports', {
          error: {
            kind: 'bad-adapter',
            title: 'Both adapter files are needed',
            message: `Choose ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS} together (or one .zip holding both).`,
            hint: 'Hold Ctrl or Shift to select both files.',
          },
        });
        return false;
      }
      files = { config: await config.text(), weights: new Uint8Array(await weights.arrayBuffer()) };
    }
    const info = await engine.call((api) => api.importAdapter(files!));
    await refreshAdapter();
    void refreshMemory();
    if (log !== null) {
      const run = await saveImportedRun(log, files);
      notify({ tone: 'success', title: 'Run imported', message: `“${run.name}”: ${run.points.length} steps, listed in Runs with its loss curve.` });
    }
    notify({
      tone: 'success',
      title: 'Adapter imported',
      message: `Rank ${info.config.r} on ${info.config.targetModules.join(', ')}. Compare it with the base model, or keep training it (Train → start from the current adapter).`,
    });
    return true;
  });
  return r === true;
}
