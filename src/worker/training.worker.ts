// The engine behind a typed RPC (Comlink). All tensor work happens here, so the page stays
// responsive; the UI sends plain data and gets plain data, events and bytes back.
//
// One operation runs at a time (load, prepare, train, generate...). While a run is paused,
// generation and export are allowed: they use the adapter as it is at that step.
import * as Comlink from 'comlink';
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { tf } from '../engine/tf';
import { initBackend, type BackendInfo } from '../engine/backend';
import { loadModelFromHub } from '../engine/model/source/hub';
import { loadModelFromFiles } from '../engine/model/source/source-files';
import { remoteUrl } from '../engine/model/source/hub-location';
import type { ModelFiles } from '../engine/model/source/source-types';
import { Session } from '../engine/session';
import { loadDataset, type LoadOptions } from '../engine/data/load';
import type { PreparedDataset, PrepareOptions } from '../engine/data/pipeline';
import { makeBatches } from '../engine/data/batches';
import { encodePrompt } from '../engine/data/tokenize';
import { resolveTemplate, type PromptTemplate } from '../engine/data/template';
import type { Trainer, TrainOptions } from '../engine/train/trainer';
import type {
  AdapterExport,
  AdapterInfo,
  BackendChoice,
  KernelChoice,
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
  ModelInfo,
  ModelSource,
  SamplingSettings,
  TrainCheckpoint,
  TrainConfig,
  TrainPlan,
  TrainResult,
  UiTrainEvent,
  TextDelta,
  WorkerApi,
  WorkerHooks,
} from './api';
import { asThrowable, fail, Failure } from './failures';
import { latest, Pump } from './throttle';
import { promptIdsOf, summarize, summarizeLoaded } from './data-summary';

let backend: BackendInfo | null = null;
let hooks: WorkerHooks | null = null;
let session: Session | null = null;
let modelSource: ModelSource | null = null;
let modelFileList: File[] = [];
let prepared: (PreparedDataset & { options: DataOptions }) | null = null;
let adapterOrigin: AdapterInfo['origin'] | null = null;

let busy: string | null = null;
let trainer: Trainer | null = null;
let loadAbort: AbortController | null = null;
let genAbort: AbortController | null = null;
/** Set by the GPU's uncapturederror / device.lost; the training loop stops on it. */
let gpuFailure: EngineFailure | null = null;
/** The dataset's own instruction/reference text of each validation example (batch mode). */
let valText = new Map<number, { instruction: string; reference: string }>();

function report(f: EngineFailure): void {
  Promise.resolve(hooks?.onFatal(f)).catch(() => {});
}

/** Runs `fn` as the one operation in progress; errors leave as EngineFailures. */
async function exclusive<T>(name: string, fn: () => Promise<T>, allowWhilePaused = false): Promise<T> {
  const pausedRun = busy === 'train' && trainer?.runState === 'paused';
  if (busy && !(allowWhilePaused && pausedRun)) fail('busy', `The engine is busy (${busy}).`, 'Wait for it to finish, or stop it first.');
  const outer = busy;
  busy = name;
  try {
    return await fn();
  } catch (e) {
    throw asThrowable(e);
  } finally {
    busy = outer;
  }
}

function requireSession(): Session {
  if (!session) fail('not-ready', 'No model is loaded.', 'Load a model in the Model panel first.');
  return session;
}

function requireData(): PreparedDataset & { options: DataOptions } {
  if (!prepared) fail('not-ready', 'No dataset is prepared for this model.', 'Choose a dataset in the Data panel first.');
  return prepared;
}

function watchGpu(): void {
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  if (!device) return;
  void device.lost.then((info) => {
    if (info.reason === 'destroyed') return;
    gpuFailure = {
      kind: 'device-lost',
      message: `The GPU device was lost${info.message ? `: ${info.message}` : ''}.`,
      hint: 'The engine restarts itself. Load the model again; a saved run resumes from its last checkpoint.',
    };
    trainer?.cancel();
    report(gpuFailure);
  });
  device.addEventListener('uncapturederror', (ev) => {
    const error = (ev as GPUUncapturedErrorEvent).error;
    if (typeof GPUOutOfMemoryError !== 'undefined' && error instanceof GPUOutOfMemoryError) {
      gpuFailure = {
        kind: 'oom',
        message: `The GPU ran out of memory: ${error.message}`,
        hint: 'Lower the batch size or the max length, target fewer modules or a smaller rank, or use a smaller model.',
      };
      trainer?.cancel();
    } else {
      console.error('WebGPU error:', error.message);
    }
  });
}

async function sha256(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const digest = await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function adapterParameters(): number {
  let n = 0;
  for (const l of session?.adapter?.layers.values() ?? []) n += l.a.size + l.b.size;
  return n;
}

function currentAdapterInfo(): AdapterInfo | null {
  const a = session?.adapter;
  if (!a || !adapterOrigin) return null;
  return { origin: adapterOrigin, config: { ...a.config, targetModules: [...a.config.targetModules] }, parameters: adapterParameters() };
}

function trainOptions(cfg: TrainConfig, maxLength: number): Omit<TrainOptions, 'padId'> {
  return {
    learningRate: cfg.learningRate,
    epochs: cfg.epochs,
    ...(cfg.maxSteps > 0 ? { maxSteps: cfg.maxSteps } : {}),
    batchSize: cfg.batchSize,
    gradAccum: cfg.gradAccum,
    maxLength,
    seed: cfg.seed,
    shuffle: cfg.shuffle,
    warmupSteps: cfg.warmupSteps,
    schedule: cfg.schedule,
    weightDecay: cfg.weightDecay,
    maxGradNorm: cfg.maxGradNorm,
    evalEvery: cfg.evalEvery,
    checkpointEvery: cfg.checkpointEvery,
  };
}

function templateNow(): PromptTemplate {
  const s = requireSession();
  return prepared?.template ?? resolveTemplate('auto', s.tokenizer);
}

function promptIds(spec: GenerateRequest['prompt']): number[] {
  const s = requireSession();
  if (spec.kind === 'validation') {
    const ex = requireData().val[spec.index];
    if (!ex) fail('not-ready', `There is no validation example #${spec.index + 1}.`, 'Prepare the dataset again.');
    return promptIdsOf(ex);
  }
  if (!spec.text.trim()) fail('not-ready', 'The prompt is empty.', 'Type a prompt or pick a validation example.');
  if (spec.kind === 'raw') return s.tokenizer.encode(spec.text);
  return encodePrompt({ turns: [{ role: 'user', content: spec.text }] }, s.tokenizer, templateNow());
}

function samplingOptions(s: SamplingSettings) {
  return {
    maxNewTokens: s.maxNewTokens,
    temperature: s.greedy ? 0 : s.temperature,
    topP: s.topP,
    topK: s.topK,
    repetitionPenalty: s.repetitionPenalty,
    seed: s.seed,
  };
}

async function modelInfo(s: Session, files: ModelFiles, source: ModelSource, started: number): Promise<ModelInfo> {
  return {
    ...s.summary(),
    source,
    defaultTemplate: resolveTemplate('auto', s.tokenizer),
    weightsBytes: files.weights.size,
    loadMs: performance.now() - started,
  };
}

async function openSession(files: ModelFiles, source: ModelSource, started: number): Promise<ModelInfo> {
  const next = await Session.open(files);
  // Replace the old model only once the new one has loaded.
  session?.dispose();
  session = next;
  modelSource = source;
  prepared = null;
  valText = new Map();
  adapterOrigin = null;
  return modelInfo(next, files, source, started);
}

/** Tokenizer and config files to ship next to merged weights. */
async function sideFiles(): Promise<ExportedFile[]> {
  const s = requireSession();
  const out: ExportedFile[] = [];
  const enc = (t: string) => new TextEncoder().encode(t);
  out.push({ name: 'config.json', bytes: enc(JSON.stringify(s.files.config, null, 2) + '\n') });
  if (s.files.generationConfig) out.push({ name: 'generation_config.json', bytes: enc(JSON.stringify(s.files.generationConfig, null, 2) + '\n') });
  const wanted = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];
  for (const name of wanted) {
    let bytes: Uint8Array | null = null;
    if (modelSource?.kind === 'files') {
      const f = modelFileList.find((x) => x.name === name);
      if (f) bytes = new Uint8Array(await f.arrayBuffer());
    } else if (modelSource?.kind === 'hub') {
      const url = remoteUrl({ repoId: modelSource.repoId, revision: modelSource.revision, host: modelSource.host }, name);
      try {
        const res = (await caches.match(url)) ?? (await fetch(url));
        if (res.ok) bytes = new Uint8Array(await res.arrayBuffer());
      } catch {
        bytes = null;
      }
    }
    if (bytes) out.push({ name, bytes });
  }
  return out;
}

const api: WorkerApi = {
  async init(prefer: BackendChoice, h: WorkerHooks, kernels: KernelChoice = 'fused'): Promise<BackendInfo> {
    hooks = h;
    if (backend) return backend;
    // Vite gives the wasm binaries hashed names, so tell TF.js each file's URL.
    const wasmPaths = {
      'tfjs-backend-wasm.wasm': wasmPlainUrl,
      'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
      'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedUrl,
    };
    try {
      backend = await initBackend({ prefer, wasmPaths, kernels });
    } catch (e) {
      throw asThrowable(e);
    }
    if (backend.name === 'webgpu') watchGpu();
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
        const files = await loadModelFromHub(req.repoId, {
          revision: req.revision || 'main',
          host: req.host,
          signal: loadAbort.signal,
          onProgress: (p) => send(p, p.done),
        });
        modelFileList = [];
        return await openSession(files, { kind: 'hub', repoId: req.repoId, revision: req.revision || 'main', host: req.host }, started);
      } finally {
        loadAbort = null;
      }
    });
  },

  loadFromFiles(files: File[]) {
    return exclusive('loading a model', async () => {
      const started = performance.now();
      const modelFiles = await loadModelFromFiles(files);
      const info = await openSession(modelFiles, { kind: 'files', name: modelFiles.name, fileNames: files.map((f) => f.name) }, started);
      modelFileList = files;
      return info;
    });
  },

  async cancelLoad() {
    loadAbort?.abort(new DOMException('The download was cancelled', 'AbortError'));
  },

  async memoryEstimate(lora, batchSize, seqLen) {
    try {
      return requireSession().memoryEstimate(lora, batchSize, seqLen);
    } catch (e) {
      throw asThrowable(e);
    }
  },

  prepareData(input: DataInput, opts: DataOptions, onProgress?: (done: number, total: number) => void): Promise<DataSummary> {
    return exclusive('preparing the dataset', async () => {
      const started = performance.now();
      const file = { name: input.name, source: input.text };
      const load: LoadOptions = {
        ...(opts.format !== 'auto' ? { format: opts.format } : {}),
        ...(opts.format === 'columns' && opts.columns ? { columns: opts.columns } : {}),
      };
      const loaded = await loadDataset(file, load);
      if (!session) {
        prepared = null;
        return summarizeLoaded(input.name, loaded, performance.now() - started);
      }
      const send = onProgress ? latest<[number, number]>(([d, t]) => onProgress(d, t), 150) : null;
      const popts: PrepareOptions = {
        ...load,
        maxLength: opts.maxLength,
        template: opts.template,
        trainOn: opts.trainOn,
        valFraction: opts.valFraction,
        seed: opts.seed,
        ...(send ? { onProgress: (d: number, t: number) => send([d, t], d === t) } : {}),
      };
      const p = await session.prepareData(file, popts);
      prepared = { ...p, options: opts };
      return summarize(input.name, session.tokenizer, p, loaded, performance.now() - started);
    });
  },

  async planTraining(cfg: TrainConfig): Promise<TrainPlan> {
    try {
      const s = requireSession();
      const data = requireData();
      const maxLength = data.options.maxLength;
      const batches = makeBatches(data.train, { batchSize: cfg.batchSize, maxLength, padId: s.padId, seed: cfg.seed * 1000, shuffle: cfg.shuffle });
      const stepsPerEpoch = Math.ceil(batches.length / Math.max(1, cfg.gradAccum));
      const byEpochs = stepsPerEpoch * cfg.epochs;
      const totalSteps = cfg.maxSteps > 0 ? Math.min(cfg.maxSteps, byEpochs) : byEpochs;
      let tokens = 0;
      let padded = 0;
      for (const b of batches) {
        padded += b.batchSize * b.seqLen;
        for (const m of b.attentionMask) tokens += m;
      }
      const longest = batches.reduce((m, b) => Math.max(m, b.seqLen), 0) || maxLength;
      const lora = cfg.init === 'current' && s.adapter ? s.adapter.config : cfg.lora;
      const memory = s.memoryEstimate(lora, cfg.batchSize, longest);
      return {
        totalSteps,
        stepsPerEpoch,
        trainExamples: data.train.length,
        valExamples: data.val.length,
        tokensPerEpoch: tokens,
        paddedTokensPerEpoch: padded,
        memory,
        flopsPerEpoch: 6 * s.summary().parameters * padded,
      };
    } catch (e) {
      throw asThrowable(e);
    }
  },

  train(cfg: TrainConfig, onEvents: (events: UiTrainEvent[]) => void, resumeFrom?: TrainCheckpoint): Promise<TrainResult> {
    return exclusive('training', async () => {
      const s = requireSession();
      const data = requireData();
      if (data.train.length === 0) fail('not-ready', 'The dataset has no training examples.', 'Check the bad lines in the Data panel, or lower the validation share.');
      if (cfg.init === 'new' || !s.adapter || resumeFrom) {
        s.newAdapter(cfg.lora, cfg.seed);
        adapterOrigin = 'new';
      }
      const t = s.trainer(data.train, data.val, trainOptions(cfg, data.options.maxLength));
      if (resumeFrom) t.restore(resumeFrom);
      trainer = t;
      gpuFailure = null;
      const pump = new Pump<UiTrainEvent>((items) => onEvents(items), 150);
      let diverged: number | null = null;
      try {
        const result = await t.run((e) => {
          if (e.type === 'phase') return pump.push(e);
          if (e.type === 'step') {
            pump.push(e);
            if (!Number.isFinite(e.loss) && diverged === null) {
              diverged = e.step;
              t.cancel();
            }
            return;
          }
          pump.push(e, true);
          if (e.type === 'paused') {
            // A checkpoint at every pause: a page closed while paused resumes from here.
            void t.checkpoint().then((checkpoint) => pump.push({ type: 'checkpoint', step: checkpoint.step, checkpoint }, true));
          }
        }, { evalBase: cfg.evalBase && !resumeFrom });
        await pump.drain();
        adapterOrigin = 'trained';
        if (gpuFailure) throw new Failure(gpuFailure);
        if (diverged !== null) {
          fail('internal', `The loss became NaN or infinite at step ${diverged}; training stopped.`, 'Lower the learning rate, or raise warmup steps and keep gradient clipping on.');
        }
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
        const ids = promptIds(req.prompt);
        genAbort = new AbortController();
        const outputs: GenerationOutput[] = [];
        const stream = new Pump<TextDelta>((deltas) => onText(deltas), 50);
        try {
          for (const which of req.models) {
            if (which === 'tuned' && !s.adapter) continue;
            if (genAbort.signal.aborted) break;
            const t0 = performance.now();
            const r = await s.generate(ids, which, {
              ...samplingOptions(req.sampling),
              signal: genAbort.signal,
              onText: (text) => stream.push({ which, text }),
            });
            outputs.push({ which, text: r.text, tokens: r.ids.length, finishReason: r.finishReason, ms: performance.now() - t0 });
          }
          await stream.drain();
          return outputs;
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
        const n = Math.min(limit > 0 ? limit : data.val.length, data.val.length);
        const examples = data.val.slice(0, n);
        const maxLength = data.options.maxLength;
        genAbort = new AbortController();
        const hasTuned = !!s.adapter;
        try {
          for (let i = 0; i < n; i++) {
            if (genAbort.signal.aborted) break;
            const ex = examples[i]!;
            const ids = promptIdsOf(ex);
            const opts = { ...samplingOptions(sampling), signal: genAbort.signal };
            const baseLoss = await s.evalLoss([ex], 'base', 1, maxLength);
            const tunedLoss = hasTuned ? await s.evalLoss([ex], 'tuned', 1, maxLength) : null;
            const base = (await s.generate(ids, 'base', opts)).text;
            const tuned = hasTuned ? (await s.generate(ids, 'tuned', opts)).text : null;
            const text = valText.get(i) ?? {
              instruction: s.tokenizer.decode(ids, { skipSpecialTokens: true }),
              reference: s.tokenizer.decode(ex.inputIds.slice(ids.length), { skipSpecialTokens: true }),
            };
            const row: BatchRow = { index: i, line: ex.line, ...text, baseLoss, tunedLoss, base, tuned };
            await Promise.resolve(onRow(row)).catch(() => {});
          }
          const baseLoss = await s.evalLoss(examples, 'base', 8, maxLength);
          const tunedLoss = hasTuned ? await s.evalLoss(examples, 'tuned', 8, maxLength) : null;
          return { baseLoss, tunedLoss, rows: n };
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
    return currentAdapterInfo();
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
        const weights = await s.exportMergedWeights();
        const files = [{ name: 'model.safetensors', bytes: weights }, ...(await sideFiles())];
        return Comlink.transfer(files, [weights.buffer as ArrayBuffer]);
      },
      true,
    );
  },

  importAdapter(files: { config: string; weights: Uint8Array }): Promise<AdapterInfo> {
    return exclusive('importing an adapter', async () => {
      const s = requireSession();
      await s.importAdapter(files);
      adapterOrigin = 'imported';
      return currentAdapterInfo()!;
    });
  },
};

// Keep the validation texts of the last prepared dataset for batch mode.
const prepareData = api.prepareData;
api.prepareData = async (input, opts, onProgress) => {
  const summary = await prepareData(input, opts, onProgress);
  valText = new Map(summary.valPrompts.map((p) => [p.index, { instruction: p.instruction, reference: p.reference }]));
  return summary;
};

self.addEventListener('unhandledrejection', (ev) => {
  console.error('worker: unhandled rejection', ev.reason);
});

Comlink.expose(api);
