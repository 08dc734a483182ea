// The engine behind a typed RPC (Comlink): glue between the UI's plain-data requests and one
// Session. All tensor work happens here, so the page stays responsive.
//
// One operation runs at a time (load, prepare, train, generate...). While a run is paused,
// generation and export are allowed: they use the adapter as it is at that step.
import * as Comlink from 'comlink';
import { initBackend, type BackendInfo } from '../engine/backend';
import { loadModelFromHub } from '../engine/model/source/hub';
import { loadModelFromFiles } from '../engine/model/source/source-files';
import type { ModelFiles } from '../engine/model/source/source-types';
import { Session } from '../engine/session';
import { weightsSha256 } from './weights-hash';
import { loadDataset } from '../engine/data/load';
import { exportJob } from '../engine/job/export';
import type { PreparedDataset } from '../engine/data/pipeline';
import { resolveTemplate } from '../engine/data/template';
import { evaluationsOf, planRun } from '../engine/train/plan';
import type { Trainer } from '../engine/train/trainer';
import type {
  AdapterExport,
  BackendChoice,
  BatchRow,
  DataInput,
  DataOptions,
  DataSummary,
  DownloadProgress,
  EngineFailure,
  ExportedFile,
  GenerateRequest,
  GenerationOutput,
  HubRequest,
  KernelChoice,
  PrecisionChoice,
  ModelInfo,
  ModelSource,
  SamplingSettings,
  TextDelta,
  TrainCheckpoint,
  TrainConfig,
  TrainPlan,
  TrainResult,
  UiTrainEvent,
  ValPrompt,
  WorkerApi,
  WorkerHooks,
} from './api';
import { fail, Failure } from './failures';
import { OneAtATime, plain } from './one-at-a-time';
import { latest, Pump } from './throttle';
import { summarize, summarizeLoaded, valPrompts } from './data-summary';
import { watchGpu } from './gpu-watch';
import { WASM_PATHS } from './wasm-paths';
import { checkpointBuffers } from './api';
import { fileBytes, loadOptions, prepareOptions, promptIds, samplingOptions, sha256, trainOptions } from './requests';

let backend: BackendInfo | null = null;
let hooks: WorkerHooks | null = null;
let session: Session | null = null;
/** The dataset prepared for the loaded model, its options, and what the UI shows of each validation example. */
let prepared: (PreparedDataset & { options: DataOptions; valPrompts: Map<number, ValPrompt> }) | null = null;

let trainer: Trainer | null = null;
let loadAbort: AbortController | null = null;
let genAbort: AbortController | null = null;
/** Numbers each batched generation, so the UI can tell whose deltas it gets. */
let generations = 0;
/**
 * Validation prompts per batched generation in the batch comparison: with an adapter each is two
 * rows (base and tuned), so at most 8 rows, the batch the decode kernels are written for.
 */
const PROMPTS_PER_BATCH = 4;
/** Set by the GPU's uncapturederror / device.lost; the training loop stops on it. */
let gpuFailure: EngineFailure | null = null;

const ops = new OneAtATime(() => trainer?.runState === 'paused');
const exclusive = ops.run.bind(ops);

function requireSession(): Session {
  if (!session) fail('not-ready', 'No model is loaded.', 'Load a model in the Model panel first.');
  return session;
}

function requireData(): NonNullable<typeof prepared> {
  if (!prepared) fail('not-ready', 'No dataset is prepared for this model.', 'Choose a dataset in the Data panel first.');
  return prepared;
}

async function openSession(files: ModelFiles, source: ModelSource, started: number): Promise<ModelInfo> {
  // The weights' identity for resuming runs and for exported adapters, read while the file is open.
  const sha256 = await weightsSha256(files.weights).catch(async (e: unknown) => {
    await files.weights.close();
    throw e;
  });
  const next = await Session.open(files);
  next.weightsSha256 = sha256;
  // Replace the old model only once the new one has loaded.
  session?.dispose();
  session = next;
  prepared = null;
  return {
    ...next.summary(),
    source,
    defaultTemplate: resolveTemplate('auto', next.tokenizer),
    weightsBytes: files.weights.size,
    loadMs: performance.now() - started,
  };
}

const api: WorkerApi = {
  async init(prefer: BackendChoice, h: WorkerHooks, kernels: KernelChoice = 'fused', precision: PrecisionChoice = 'fp32'): Promise<BackendInfo> {
    hooks = h;
    if (backend) return backend;
    backend = await plain(() => initBackend({ prefer, wasmPaths: WASM_PATHS, kernels, precision }));
    if (backend.name === 'webgpu') {
      watchGpu((f) => {
        gpuFailure = f;
        trainer?.cancel();
        if (f.kind === 'device-lost') Promise.resolve(hooks?.onFatal(f)).catch(() => {});
      });
    }
    return backend;
  },

  async ping() {
    return performance.now();
  },

  loadFromHub(req: HubRequest, onProgress: (p: DownloadProgress) => void) {
    return exclusive('loading a model', async () => {
      const started = performance.now();
      loadAbort = new AbortController();
      const send = latest<DownloadProgress>((p) => onProgress(p), 100);
      try {
        const revision = req.revision || 'main';
        const files = await loadModelFromHub(req.repoId, { revision, host: req.host, signal: loadAbort.signal, onProgress: (p) => send(p, p.done) });
        return await openSession(files, { kind: 'hub', repoId: req.repoId, revision, host: req.host }, started);
      } finally {
        loadAbort = null;
      }
    });
  },

  loadFromFiles(files: File[]) {
    return exclusive('loading a model', async () => {
      const started = performance.now();
      const modelFiles = await loadModelFromFiles(files);
      return openSession(modelFiles, { kind: 'files', name: modelFiles.name, fileNames: files.map((f) => f.name) }, started);
    });
  },

  async cancelLoad() {
    loadAbort?.abort(new DOMException('The download was cancelled', 'AbortError'));
  },

  memoryEstimate(lora, batchSize, seqLen) {
    return plain(() => requireSession().memoryEstimate(lora, batchSize, seqLen));
  },

  prepareData(input: DataInput, opts: DataOptions, onProgress?: (done: number, total: number) => void): Promise<DataSummary> {
    return exclusive('preparing the dataset', async () => {
      const started = performance.now();
      const file = { name: input.name, source: input.text };
      const loaded = await loadDataset(file, loadOptions(opts));
      if (!session) {
        prepared = null;
        return summarizeLoaded(input.name, loaded, performance.now() - started);
      }
      const send = onProgress ? latest<[number, number]>(([d, t]) => onProgress(d, t), 150) : null;
      const p = await session.prepareData(file, prepareOptions(opts, send ? (d, t) => send([d, t], d === t) : undefined));
      const summary = summarize(input.name, session.tokenizer, p, loaded, performance.now() - started);
      prepared = { ...p, options: opts, valPrompts: new Map(summary.valPrompts.map((v) => [v.index, v])) };
      return summary;
    });
  },

  planTraining(cfg: TrainConfig): Promise<TrainPlan> {
    return plain(() => {
      const s = requireSession();
      const data = requireData();
      const options = { ...trainOptions(cfg, data.options.maxLength), padId: s.padId };
      const plan = planRun(data.train, options);
      const val = planRun(data.val, { ...options, shuffle: false, epochs: 1, maxSteps: 0 });
      const lora = cfg.init === 'current' && s.adapter ? s.adapter.config : cfg.lora;
      const parameters = s.summary().parameters;
      return {
        totalSteps: plan.totalSteps,
        stepsPerEpoch: plan.stepsPerEpoch,
        trainExamples: data.train.length,
        valExamples: data.val.length,
        tokensPerEpoch: plan.tokensPerEpoch,
        paddedTokensPerEpoch: plan.paddedTokensPerEpoch,
        memory: s.memoryEstimate(lora, cfg.batchSize, plan.longestSeq || data.options.maxLength),
        flopsPerEpoch: 6 * parameters * plan.paddedTokensPerEpoch,
        evalFlops: 2 * parameters * val.paddedTokensPerEpoch * evaluationsOf(plan.totalSteps, cfg.evalEvery, cfg.evalBase, data.val.length),
        warnings: s.trainingWarnings(lora, data.options.maxLength, 'Max length (Data)'),
      };
    });
  },

  train(cfg: TrainConfig, onEvents: (events: UiTrainEvent[]) => void, resumeFrom?: TrainCheckpoint): Promise<TrainResult> {
    return exclusive('training', async () => {
      const s = requireSession();
      const data = requireData();
      if (data.train.length === 0) fail('not-ready', 'The dataset has no training examples.', 'Check the bad lines in the Data panel, or lower the validation share.');
      if (cfg.init === 'new' || !s.adapter || resumeFrom) s.newAdapter(cfg.lora, cfg.seed);
      const t = s.trainer(data.train, data.val, trainOptions(cfg, data.options.maxLength));
      if (resumeFrom) t.restore(resumeFrom);
      trainer = t;
      gpuFailure = null;
      const pump = new Pump<UiTrainEvent>((items) => {
        const buffers = items.flatMap((e) => (e.type === 'checkpoint' ? checkpointBuffers(e.checkpoint) : []));
        return onEvents(Comlink.transfer(items, buffers));
      }, 150);
      try {
        const onEvent = (e: UiTrainEvent) => {
          // Steps and progress go in batches; the rest (start, pause, evals...) at once.
          pump.push(e, e.type !== 'step' && e.type !== 'phase');
          // A checkpoint at every pause: a page closed while paused resumes from here.
          if (e.type === 'paused') void t.checkpoint().then((checkpoint) => pump.push({ type: 'checkpoint', step: checkpoint.step, checkpoint }, true));
        };
        const result = await t.run(onEvent, { evalBase: cfg.evalBase && !resumeFrom });
        await pump.drain();
        s.markTrained();
        if (gpuFailure) throw new Failure(gpuFailure);
        return { steps: t.step, cancelled: result.cancelled, losses: result.losses };
      } finally {
        await pump.drain();
        t.dispose();
        trainer = null;
      }
    });
  },

  async pause() {
    trainer?.pause();
  },
  async resume() {
    trainer?.resume();
  },
  async stop() {
    trainer?.cancel();
  },

  generate(req: GenerateRequest, onText: (deltas: TextDelta[]) => void): Promise<GenerationOutput[]> {
    return exclusive(
      'generating',
      async () => {
        const s = requireSession();
        const ids = promptIds(req.prompt, s, prepared);
        const which = req.models.filter((w) => w === 'base' || s.adapter);
        if (which.length === 0) return [];
        const generation = ++generations;
        genAbort = new AbortController();
        const stream = new Pump<TextDelta>((deltas) => onText(deltas), 50);
        try {
          const r = await s.generateRows(
            which.map((w) => ({ prompt: ids, which: w })),
            { ...samplingOptions(req.sampling), signal: genAbort.signal, onText: (row, text) => stream.push({ which: which[row]!, text, generation }) },
          );
          await stream.drain();
          return r.rows.map((row, i) => ({
            which: which[i]!,
            text: row.text,
            tokens: row.ids.length,
            finishReason: row.finishReason,
            ms: row.prefillMs + row.decodeMs,
            generation,
            rows: which.length,
          }));
        } finally {
          genAbort = null;
        }
      },
      true,
    );
  },

  evaluateValidation(sampling: SamplingSettings, limit: number, onRow: (row: BatchRow) => void) {
    return exclusive(
      'evaluating',
      async () => {
        const s = requireSession();
        const data = requireData();
        if (data.val.length === 0) fail('not-ready', 'The dataset has no validation split.', 'Raise the validation share in the Data panel.');
        const examples = data.val.slice(0, Math.min(limit > 0 ? limit : data.val.length, data.val.length));
        const maxLength = data.options.maxLength;
        genAbort = new AbortController();
        try {
          for (let start = 0; start < examples.length; start += PROMPTS_PER_BATCH) {
            if (genAbort.signal.aborted) break;
            const chunk = examples.slice(start, start + PROMPTS_PER_BATCH);
            const compared = await s.compareOn(chunk, maxLength, { ...samplingOptions(sampling), signal: genAbort.signal });
            for (const [i, c] of compared.entries()) {
              const index = start + i;
              const ex = chunk[i]!;
              const v = data.valPrompts.get(index) ?? valPrompts(s.tokenizer, [ex], [])[0]!;
              await Promise.resolve(onRow({ index, line: ex.line, instruction: v.instruction, reference: v.reference, ...c })).catch(() => {});
            }
          }
          const baseLoss = await s.evalLoss(examples, 'base', 8, maxLength);
          const tunedLoss = s.adapter ? await s.evalLoss(examples, 'tuned', 8, maxLength) : null;
          return { baseLoss, tunedLoss, rows: examples.length };
        } finally {
          genAbort = null;
        }
      },
      true,
    );
  },

  async stopGenerate() {
    genAbort?.abort();
  },

  async adapterInfo() {
    return session?.adapterSummary() ?? null;
  },

  exportAdapter(): Promise<AdapterExport> {
    return exclusive(
      'exporting',
      async () => {
        const s = requireSession();
        if (!s.adapter) fail('not-ready', 'There is no adapter to export.', 'Train one, or import one.');
        const files = await s.exportAdapter();
        return { ...files, sha256: { config: await sha256(files.config), weights: await sha256(files.weights) } };
      },
      true,
    );
  },

  exportMerged(): Promise<ExportedFile[]> {
    return exclusive(
      'exporting',
      async () => {
        const s = requireSession();
        if (!s.adapter) fail('not-ready', 'There is no adapter to merge.', 'Train one, or import one.');
        const files = fileBytes(await s.exportMergedModel());
        return Comlink.transfer(files, files.map((f) => f.bytes.buffer as ArrayBuffer));
      },
      true,
    );
  },

  exportJob(input: DataInput, opts: DataOptions, cfg: TrainConfig) {
    return exclusive(
      'exporting a job',
      async () => {
        const s = requireSession();
        if (cfg.init === 'current') {
          fail('not-ready', 'A job trains a new adapter, and this run continues the current one.', 'Choose a new adapter in the Train panel to export the run as a job.');
        }
        const { onProgress: _p, ...data } = prepareOptions(opts);
        return exportJob(s, { name: input.name, source: input.text }, { data: { ...data, seed: opts.seed }, lora: cfg.lora, training: trainOptions(cfg, opts.maxLength), evalBase: cfg.evalBase });
      },
      true,
    );
  },

  importAdapter(files: { config: string; weights: Uint8Array }) {
    return exclusive('importing an adapter', async () => {
      const s = requireSession();
      await s.importAdapter(files);
      return s.adapterSummary()!;
    });
  },
};

self.addEventListener('unhandledrejection', (ev) => {
  console.error('worker: unhandled rejection', ev.reason);
});

Comlink.expose(api);
