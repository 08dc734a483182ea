// A model trains: a few LoRA steps (r 8, all linears) of a random-weight model at its exact config,
// with the fused kernels on WebGPU — finite loss that starts near ln(vocab) and falls every step,
// and tensor memory flat from step to step. `npm run bench -- --train-check gemma3-270m` (also the
// GPU bundle's bench.mjs, so that a GPU runs in seconds what SwiftShader takes hours for); the opt-in
// test/webgpu/gemma3-270m-train.test.ts runs the same function. Exit 1 when a check fails.
import { tf } from '../src/engine/tf';
import { installNodeWebGPU } from '../src/engine/backend-node';
import { initBackend } from '../src/engine/backend';
import { parseModelConfig } from '../src/engine/model/config';
import { createDecoder } from '../src/engine/model/load';
import { disposeWeights } from '../src/engine/model/weights';
import { createLoraAdapter, disposeAdapter, TARGET_PRESETS } from '../src/engine/lora/lora';
import { DEFAULT_TRAIN_OPTIONS, Trainer } from '../src/engine/train/trainer';
import { mulberry32 } from '../src/engine/rng';
import { randomWeights } from '../test/helpers/random-model';
import { randomIds } from '../test/helpers/model-forward';
import { benchModel } from './lib/models';
import { int } from './lib/args';

export interface TrainCheckOptions {
  batch: number;
  seq: number;
  steps: number;
  log?: (line: string) => void;
}

export interface TrainCheck {
  losses: number[];
  /** tf.memory() after each step. */
  memory: { numTensors: number; numBytes: number }[];
  /** What failed; empty when the model trains. */
  failures: string[];
}

/** Trains on the current backend (the caller picks it): the same `batch` examples every step, so LoRA can lower their loss. */
export async function trainCheck(modelId: string, opts: TrainCheckOptions): Promise<TrainCheck> {
  const spec = benchModel(modelId);
  if (!spec.config) throw new Error(`--train-check: ${modelId} is not a random-weight model`);
  const c = parseModelConfig({ ...spec.config });
  const log = opts.log ?? (() => undefined);
  const weights = randomWeights(c, 0);
  const model = createDecoder(c, weights);
  const train = Array.from({ length: opts.batch }, (_, i) => ({ inputIds: randomIds(opts.seq, c.vocabSize, i + 1), lossMask: [0, ...new Array(opts.seq - 1).fill(1)] }));
  const adapter = createLoraAdapter(c, { r: 8, alpha: 16, dropout: 0, useRslora: false, targetModules: [...TARGET_PRESETS['all-linear']] }, mulberry32(1));
  const trainer = new Trainer(model, adapter, train, [], {
    ...DEFAULT_TRAIN_OPTIONS,
    padId: 0,
    batchSize: opts.batch,
    maxLength: opts.seq,
    learningRate: 1e-2,
    schedule: 'constant',
    shuffle: false,
    maxSteps: opts.steps,
    epochs: opts.steps,
    // Timing tiles on a software adapter takes longer than the steps and says nothing of a GPU.
    tuneKernels: false,
  });
  const memory: TrainCheck['memory'] = [];
  const t0 = performance.now();
  const seconds = () => ((performance.now() - t0) / 1000).toFixed(1);
  try {
    let phase = '';
    const { losses } = await trainer.run((e) => {
      if (e.type === 'phase' && e.phase !== phase) log(`[${seconds()} s] ${(phase = e.phase)}`);
      if (e.type !== 'step') return;
      memory.push({ numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes });
      log(`[${seconds()} s] step ${e.step}: loss ${e.loss}`);
    });
    const failures: string[] = [];
    if (losses.length !== opts.steps) failures.push(`${losses.length} of ${opts.steps} steps ran`);
    if (!losses.every(Number.isFinite)) failures.push(`a loss is not finite: ${losses.join(', ')}`);
    // Random weights predict nothing: ≈ ln(vocab) at the start.
    if (!(Math.abs(losses[0]! - Math.log(c.vocabSize)) < 0.5)) failures.push(`first loss ${losses[0]} is not within 0.5 of ln(${c.vocabSize}) = ${Math.log(c.vocabSize).toFixed(2)}`);
    for (let i = 1; i < losses.length; i++) if (!(losses[i]! < losses[i - 1]!)) failures.push(`loss did not fall at step ${i + 1}: ${losses[i - 1]} → ${losses[i]}`);
    for (let i = 2; i < memory.length; i++) {
      if (memory[i]!.numTensors !== memory[i - 1]!.numTensors || memory[i]!.numBytes !== memory[i - 1]!.numBytes) {
        failures.push(`tensor memory grew from step ${i} to ${i + 1}: ${JSON.stringify(memory[i - 1])} → ${JSON.stringify(memory[i])}`);
      }
    }
    return { losses, memory, failures };
  } finally {
    trainer.dispose();
    disposeAdapter(adapter);
    model.dispose();
    disposeWeights(weights);
  }
}

/** `--train-check MODEL [--batch 2] [--seq 128] [--steps 3] [--swiftshader]`: prints the run; returns the exit code. */
export async function trainCheckMain(argv: readonly string[]): Promise<number> {
  const at = argv.indexOf('--train-check');
  const modelId = argv[at + 1] ?? '';
  const flag = (name: string, fallback: number) => {
    const i = argv.indexOf(`--${name}`);
    return i < 0 ? fallback : int(name, argv[i + 1] ?? '', 1);
  };
  const opts = { batch: flag('batch', 2), seq: flag('seq', 128), steps: flag('steps', 3) };
  const line = (s: string) => process.stdout.write(`${s}\n`);
  if (!(await installNodeWebGPU({ swiftshader: argv.includes('--swiftshader') }))) throw new Error('Dawn (npm "webgpu") failed to load');
  const info = await initBackend({ prefer: 'webgpu', allowSoftwareGpu: true });
  line(`train-check: ${modelId} at ${opts.batch} × ${opts.seq}, ${opts.steps} steps, on ${info.reason} (kernels ${info.kernels})`);
  const r = await trainCheck(modelId, { ...opts, log: (s) => line(`train-check: ${s}`) });
  line(`train-check: losses ${r.losses.join(', ')}; tensors after each step ${r.memory.map((m) => `${m.numTensors}/${m.numBytes} B`).join(', ')}`);
  for (const f of r.failures) line(`train-check: FAILED: ${f}`);
  line(`train-check: ${r.failures.length ? 'FAILED' : 'passed'}`);
  return r.failures.length ? 1 : 0;
}
