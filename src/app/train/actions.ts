// Training runs: start (or resume from a checkpoint), live events into the store and into
// IndexedDB, pause/resume/stop, and what happens at the end (the adapter is saved with the run).
import * as Comlink from 'comlink';
import { engine } from '../engine-instance';
import { failureOf } from '../engine';
import { isTraining, notify, patch, useStore, type EvalPoint, type StepPoint } from '../store';
import { uiError } from '../errors';
import { checkpointBuffers, type TrainCheckpoint, type TrainConfig, type UiTrainEvent } from '../../worker/api';
import * as db from '../runs/db';
import { loss as fmtLoss, sci } from '../util/format';
import { refreshRuns } from '../runs/list';
import { refreshAdapter } from '../adapter';
import { setTrainConfig } from './plan';
import { ConfigFileError, readTrainingConfig } from './config-file';

const MAX_LOG = 400;

function pushLog(lines: string[], line: string): string[] {
  const next = lines.length >= MAX_LOG ? lines.slice(lines.length - MAX_LOG + 1) : lines.slice();
  next.push(line);
  return next;
}

/** Persists the live run record at most once a second. */
class RunSaver {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private last = 0;
  constructor(private run: db.RunRecord) {}
  update(p: Partial<db.RunRecord>, now = false): Promise<void> {
    this.run = { ...this.run, ...p };
    const wait = 1000 - (Date.now() - this.last);
    if (now || wait <= 0) return this.save();
    this.timer ??= setTimeout(() => void this.save(), wait);
    return Promise.resolve();
  }
  get record(): db.RunRecord {
    return this.run;
  }
  private async save(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.last = Date.now();
    await db.putRun(this.run).catch((e) => console.error('saving the run failed', e));
  }
}

let saver: RunSaver | null = null;

function onEvents(runId: string, events: UiTrainEvent[]): void {
  const t = useStore.getState().train;
  if (t.runId !== runId) return;
  let { points, evals, log, step, totalSteps, etaMs, elapsedMs, clockAt, baseEval, status, checkpointStep, phase } = t;
  let pointsChanged = false;
  for (const e of events) {
    switch (e.type) {
      case 'start':
        totalSteps = e.totalSteps;
        step = e.step;
        // A Pause or Stop clicked while starting stands: the worker has it already.
        if (status === 'starting') status = 'running';
        log = pushLog(log, e.step > 0 ? `Resumed at step ${e.step} of ${e.totalSteps}` : `Started: ${e.totalSteps} steps (${e.stepsPerEpoch} per epoch)`);
        break;
      case 'phase':
        phase = { phase: e.phase, done: e.done, total: e.total };
        elapsedMs = e.elapsedMs;
        etaMs = e.etaMs ?? etaMs;
        clockAt = Date.now();
        break;
      case 'base-eval':
        baseEval = e.valLoss;
        log = pushLog(log, `Base model validation loss ${fmtLoss(e.valLoss)}`);
        break;
      case 'step': {
        if (!pointsChanged) points = points.slice();
        pointsChanged = true;
        const p: StepPoint = { step: e.step, loss: e.loss, lr: e.lr, tokensPerSec: e.tokensPerSec, gradNorm: e.gradNorm, elapsedMs: e.elapsedMs };
        points.push(p);
        step = e.step;
        totalSteps = e.totalSteps;
        etaMs = e.etaMs;
        elapsedMs = e.elapsedMs;
        clockAt = Date.now();
        log = pushLog(
          log,
          `step ${e.step}/${e.totalSteps} · loss ${fmtLoss(e.loss)} · lr ${sci(e.lr)} · grad norm ${e.gradNorm.toFixed(3)} · ${Math.round(e.tokensPerSec)} tok/s · ${(e.stepMs / 1000).toFixed(2)} s`,
        );
        break;
      }
      case 'eval': {
        evals = [...evals.filter((x) => x.step !== e.step), { step: e.step, valLoss: e.valLoss } satisfies EvalPoint];
        log = pushLog(log, `step ${e.step}: validation loss ${fmtLoss(e.valLoss)}`);
        break;
      }
      case 'checkpoint': {
        // Shown as saved only once it is in IndexedDB, with the run's history up to it.
        const cp = e.checkpoint as TrainCheckpoint;
        const mine = saver;
        void db
          .putCheckpoint(runId, cp)
          .then(() => mine?.update({ checkpointStep: cp.step }, true))
          .then(() => {
            const now = useStore.getState().train;
            if (now.runId === runId) patch('train', { checkpointStep: cp.step, log: pushLog(now.log, `Checkpoint saved at step ${cp.step}`) });
          })
          .catch((err) => console.error('saving the checkpoint failed', err));
        break;
      }
      case 'paused':
        status = 'paused';
        log = pushLog(log, `Paused after step ${e.step}`);
        void saver?.update({ status: 'paused' }, true);
        break;
      case 'resumed':
        status = 'running';
        log = pushLog(log, `Resumed at step ${e.step}`);
        void saver?.update({ status: 'running' }, true);
        break;
      case 'warning':
        log = pushLog(log, `Warning: ${e.message}`);
        break;
      case 'done':
        step = e.step;
        break;
    }
  }
  patch('train', { points, evals, log, step, totalSteps, etaMs, elapsedMs, clockAt, baseEval, status, checkpointStep, phase });
  void saver?.update({ points, evals, step, totalSteps, baseEval });
}

function storageFailed(e: unknown): void {
  notify({ tone: 'warning', title: 'This run cannot be saved', message: `The browser refused to store it (${e instanceof Error ? e.message : String(e)}); training goes on, but it will not be listed after a reload.` });
}

export interface ResumeFrom {
  run: db.RunRecord;
  checkpoint: TrainCheckpoint;
}

export async function startTraining(resume?: ResumeFrom): Promise<void> {
  const st = useStore.getState();
  if (isTraining()) return;
  const { model, data } = st;
  if (model.status !== 'ready' || !model.info) {
    notify({ tone: 'warning', title: 'Load a model first', message: 'Training needs a model (Model panel).' });
    return;
  }
  if (!data.input || !data.summary?.tokenized) {
    notify({ tone: 'warning', title: 'Choose a dataset first', message: 'Training needs a prepared dataset (Data panel).' });
    return;
  }
  // At once, before anything is awaited: the buttons change state on the click itself.
  patch('train', { status: 'starting', error: null });
  const config: TrainConfig = resume ? resume.run.config : structuredClone(st.train.config);
  const cp = resume?.checkpoint;
  const info = st.engine.backend;
  // The run records what computed it; 'webgpu (stock ops)' when the fused kernels were switched off,
  // 'webgpu (f16-base)' over a float16 base.
  const backend = info ? `${info.name}${info.name === 'webgpu' && info.kernels === 'stock' ? ' (stock ops)' : ''}${info.precision === 'f16-base' ? ' (f16-base)' : ''}` : 'unknown';
  const precision = info?.precision ?? 'fp32';
  const runId = resume?.run.id ?? db.newRunId();
  const keptPoints = cp ? (resume!.run.points ?? []).filter((p) => p.step <= cp.step) : [];
  const keptEvals = cp ? (resume!.run.evals ?? []).filter((p) => p.step <= cp.step) : [];
  let run: db.RunRecord;
  if (resume) {
    run = { ...resume.run, status: 'running', points: keptPoints, evals: keptEvals, step: cp!.step, error: undefined, backend, precision };
    await db.putRun(run).catch(storageFailed);
  } else {
    const summary = data.summary;
    const now = Date.now();
    run = {
      id: runId,
      name: `Run ${st.runs.list.length + 1} · ${model.info.name.split('/').pop()} · ${data.input.name}`,
      createdAt: now,
      updatedAt: now,
      status: 'running',
      model: {
        name: model.info.name,
        source: model.info.source,
        parameters: model.info.parameters,
        fingerprint: model.info.fingerprint,
        ...(model.info.weightsSha256 ? { weightsSha256: model.info.weightsSha256 } : {}),
      },
      data: {
        name: data.input.name,
        options: structuredClone(data.options),
        counts: summary.counts,
        format: summary.files.map((f) => f.format).join(', '),
        template: summary.template,
      },
      config,
      backend,
      precision,
      totalSteps: st.train.plan?.totalSteps ?? 0,
      step: 0,
      points: [],
      evals: [],
      baseEval: null,
      checkpointStep: null,
      hasAdapter: false,
    };
    await db.createRun(run, data.input.text).catch(storageFailed);
  }
  saver = new RunSaver(run);
  // The status stays as it is: 'starting', or a Pause or Stop clicked meanwhile.
  patch('train', {
    phase: null,
    runId,
    viewing: { runId, name: run.name },
    step: cp?.step ?? 0,
    totalSteps: run.totalSteps,
    points: keptPoints,
    evals: keptEvals,
    baseEval: resume ? resume.run.baseEval : null,
    log: [resume ? `Resuming “${run.name}” from its checkpoint at step ${cp!.step}` : `New run “${run.name}” on ${backend}`],
    etaMs: null,
    elapsedMs: 0,
    clockAt: Date.now(),
    checkpointStep: cp?.step ?? null,
    error: null,
  });
  void refreshRuns();
  const started = performance.now();
  try {
    const handler = Comlink.proxy((events: UiTrainEvent[]) => onEvents(runId, events));
    const running = engine.call((api) => api.train(config, handler, cp && Comlink.transfer(cp, checkpointBuffers(cp))));
    // A Pause or Stop clicked while the run was being set up goes right behind the train call.
    const intent = useStore.getState().train.status;
    if (intent === 'pausing') void engine.call((api) => api.pause()).catch(() => {});
    if (intent === 'stopping') void engine.call((api) => api.stop()).catch(() => {});
    const result = await running;
    const status = result.cancelled ? 'stopped' : 'done';
    patch('train', { status, phase: null, log: pushLog(useStore.getState().train.log, result.cancelled ? `Stopped after step ${result.steps}` : `Done: ${result.steps} steps`) });
    await saveAdapter(runId);
    await saver.update({ status, step: result.steps, hasAdapter: true }, true);
    measureSpeed(started, result.steps - (cp?.step ?? 0));
    notify({
      tone: 'success',
      title: result.cancelled ? 'Training stopped' : 'Training finished',
      message: `The adapter after step ${result.steps} is saved with the run. Compare it with the base model, or export it.`,
    });
  } catch (e) {
    const f = failureOf(e);
    const error = uiError('Training failed', e);
    patch('train', { status: 'failed', phase: null, error, log: pushLog(useStore.getState().train.log, `Failed: ${f.message}`) });
    await saver.update({ status: f.kind === 'device-lost' || f.kind === 'internal' ? 'interrupted' : 'failed', error: f.message }, true);
  } finally {
    saver = null;
    void refreshRuns();
    void refreshAdapter();
  }
}

function measureSpeed(startedMs: number, steps: number): void {
  const plan = useStore.getState().train.plan;
  if (!plan || steps <= 0) return;
  const seconds = (performance.now() - startedMs) / 1000;
  const flops = (plan.flopsPerEpoch / Math.max(1, plan.stepsPerEpoch)) * steps;
  if (seconds > 0) patch('train', { measuredFlops: flops / seconds });
}

async function saveAdapter(runId: string): Promise<void> {
  try {
    const files = await engine.call((api) => api.exportAdapter());
    await db.putAdapter(runId, { config: files.config, weights: files.weights });
    patch('exports', { sha256: files.sha256 });
  } catch (e) {
    notify({ tone: 'warning', title: 'The adapter could not be saved with the run', message: failureOf(e).message });
  }
}

export async function pauseTraining(): Promise<void> {
  const s = useStore.getState().train.status;
  if (s !== 'running' && s !== 'starting') return;
  patch('train', { status: 'pausing' });
  await engine.call((api) => api.pause()).catch(() => {});
}

export async function resumeTraining(): Promise<void> {
  if (useStore.getState().train.status !== 'paused') return;
  patch('train', { status: 'running' });
  await engine.call((api) => api.resume()).catch(() => {});
}

export async function stopTraining(): Promise<void> {
  const s = useStore.getState().train.status;
  if (s !== 'running' && s !== 'paused' && s !== 'pausing' && s !== 'starting') return;
  patch('train', { status: 'stopping' });
  await engine.call((api) => api.stop()).catch(() => {});
}

/** Settings from a training config file (or a saved run's), ready for the next run. */
export async function loadSettingsFile(file: File): Promise<void> {
  try {
    const { config, ignored } = readTrainingConfig(await file.text(), file.name, useStore.getState().train.config);
    setTrainConfig(config);
    notify({
      tone: 'success',
      title: 'Settings loaded',
      message: `From ${file.name}${ignored.length ? `; not training settings, left out: ${ignored.join(', ')}` : ''}.`,
    });
  } catch (e) {
    notify({ tone: 'error', title: 'These settings could not be loaded', message: e instanceof ConfigFileError ? e.message : String(e) });
  }
}

export function applyPreset(name: string, config: TrainConfig): void {
  setTrainConfig(structuredClone(config), name);
}

export function viewRun(run: db.RunRecord): void {
  if (isTraining()) return;
  patch('train', {
    viewing: { runId: run.id, name: run.name, status: run.status },
    runId: null,
    status: 'idle',
    points: run.points,
    evals: run.evals,
    baseEval: run.baseEval,
    step: run.step,
    totalSteps: run.totalSteps,
    log: [`Showing the saved history of “${run.name}”, with its settings`],
    // The Settings column shows the run's own settings (and the next run starts from them).
    config: structuredClone(run.config),
    preset: 'custom',
    etaMs: null,
    elapsedMs: run.points.at(-1)?.elapsedMs ?? 0,
    checkpointStep: run.checkpointStep,
    error: null,
  });
}
