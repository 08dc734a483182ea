// The supervised LoRA training loop. One optimizer step = `gradAccum` micro-batches; its loss
// is Σ token losses / Σ trained tokens over those micro-batches (as TRL computes it; see
// src/engine/README.md), so each micro-batch's summed loss is divided by the step's total
// before its gradients are added.
// Everything random (data order, dropout) is derived from (seed, epoch, step), which is what
// makes a resumed run repeat the uninterrupted one loss for loss.
import { tf } from '../tf';
import { assignData } from '../variables';
import type { Decoder } from '../model/decoder';
import { loraTensors, loraVariables, type LoraAdapter } from '../lora/lora';
import type { Batch, BatchExample } from '../data/batches';
import { epochBatches, evalsBetween, planRun } from './plan';
import { summedCrossEntropy } from './loss';
import { AdamW, ADAMW_DEFAULTS, type AdamWState } from './optimizer';
import { learningRate, type ScheduleKind } from './schedule';
import type { TrainEvent, TrainPhase } from './events';
import { evaluate, evaluateUntil } from './evaluate';
import { nextTurn } from '../next-turn';
import { firstNonFinite, NonFiniteTrainingError } from './non-finite';
import { linearShapes } from '../model/config';
import { fusedActive, rowBucket, tuneFrozenMatmuls } from '../../../kernels';

export interface TrainOptions {
  learningRate: number;
  epochs: number;
  /** Stop after this many optimizer steps (overrides epochs when smaller; 0: no limit). */
  maxSteps?: number;
  batchSize: number;
  gradAccum: number;
  maxLength: number;
  padId: number;
  seed: number;
  shuffle: boolean;
  packing?: boolean;
  warmupSteps: number;
  schedule: ScheduleKind;
  weightDecay: number;
  maxGradNorm: number;
  /** Evaluate on the validation split every N steps (0: only at the end). */
  evalEvery: number;
  /** Emit a checkpoint every N steps (0: never during the run). */
  checkpointEvery?: number;
  /**
   * With the fused WebGPU kernels: before the first step, time the candidate matmul tiles on this
   * device for the step's frozen-weight products (kernels/tuning.ts). Default true.
   */
  tuneKernels?: boolean;
}

export const DEFAULT_TRAIN_OPTIONS: Omit<TrainOptions, 'padId'> = {
  learningRate: 2e-4,
  epochs: 1,
  batchSize: 8,
  gradAccum: 1,
  maxLength: 256,
  seed: 0,
  shuffle: true,
  warmupSteps: 0,
  schedule: 'cosine',
  weightDecay: 0,
  maxGradNorm: 1,
  evalEvery: 0,
};

/** Everything needed to continue exactly where a run stopped. */
export interface TrainCheckpoint {
  version: 1;
  /** Optimizer steps done. */
  step: number;
  options: TrainOptions;
  /** LoRA tensors by variable name (A and B of each layer). */
  adapter: Record<string, Float32Array>;
  optimizer: AdamWState;
  losses: number[];
}

export type RunState = 'idle' | 'running' | 'paused' | 'cancelled' | 'done';

export class Trainer {
  private readonly vars: tf.Variable[];
  private readonly optimizer: AdamW;
  private readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  private stepsDone = 0;
  private losses: number[] = [];
  private cachedEpoch = -1;
  private cachedBatches: Batch[] = [];
  private state: RunState = 'idle';
  private wake: (() => void) | null = null;
  private onEvent: (e: TrainEvent) => void = () => {};
  private phase: TrainPhase | null = null;
  private startedAt = 0;
  /**
   * Wall time per padded token of this run's steps — batches are grouped by length, so one
   * step's time says little about the next — the first step (it compiles GPU programs) apart.
   */
  private firstStepMsPerToken: number | null = null;
  private laterStepsMs = 0;
  private laterStepsTokens = 0;
  private readonly paddedTokensPerStep: number;
  /** Measured by the last complete evaluation. */
  private evalMsPerBatch: number | null = null;
  private evalBatchCount: number | null = null;
  /** Warm-up as it applies: capped when set at or above the run's length. */
  private readonly warmupSteps: number;

  constructor(
    private readonly model: Decoder,
    private readonly adapter: LoraAdapter,
    private readonly train: readonly BatchExample[],
    private readonly val: readonly BatchExample[],
    readonly options: TrainOptions,
  ) {
    if (train.length === 0) throw new Error('there are no training examples');
    this.vars = loraVariables(adapter);
    this.optimizer = new AdamW(this.vars, { ...ADAMW_DEFAULTS, weightDecay: options.weightDecay });
    const plan = planRun(train, options);
    this.stepsPerEpoch = plan.stepsPerEpoch;
    this.totalSteps = plan.totalSteps;
    this.warmupSteps = effectiveWarmup(options.warmupSteps, plan.totalSteps);
    this.paddedTokensPerStep = plan.paddedTokensPerEpoch / Math.max(1, plan.stepsPerEpoch);
    this.cachedBatches = plan.batches;
    this.cachedEpoch = 0;
  }

  get step(): number {
    return this.stepsDone;
  }

  get runState(): RunState {
    return this.state;
  }

  private current(): RunState {
    return this.state;
  }

  /**
   * Takes effect at the next boundary of whatever runs: a step, an evaluated batch, a measured
   * kernel. Asked before run() starts, it holds the run at its first boundary.
   */
  pause(): void {
    if (this.state === 'running' || this.state === 'idle') this.state = 'paused';
  }

  resume(): void {
    if (this.state === 'paused') this.state = 'running';
    this.wake?.();
  }

  /** Like pause(), at the next boundary of whatever runs, including before run() starts. */
  cancel(): void {
    if (this.state === 'running' || this.state === 'paused' || this.state === 'idle') this.state = 'cancelled';
    this.wake?.();
  }

  /**
   * Trains to the end, or until cancelled. `evalBase`: before the first step of a new run,
   * measure the validation loss the run starts from (a 'base-eval' event; the base model's own
   * for a new adapter, whose B is zero) — part of this call, not of the run's definition, so a
   * resumed run has the same options.
   */
  async run(onEvent: (e: TrainEvent) => void = () => {}, { evalBase = false } = {}): Promise<{ losses: number[]; cancelled: boolean }> {
    if (this.state === 'idle') this.state = 'running';
    this.onEvent = onEvent;
    const o = this.options;
    const start = performance.now();
    this.startedAt = start;
    let tokensSeen = 0;
    onEvent({ type: 'start', totalSteps: this.totalSteps, stepsPerEpoch: this.stepsPerEpoch, step: this.stepsDone });
    if (this.warmupSteps !== o.warmupSteps) {
      onEvent({
        type: 'warning',
        message: `${o.warmupSteps} warm-up steps would leave no full-rate steps in a ${this.totalSteps}-step run; warming up over ${this.warmupSteps} instead (about 10%)`,
      });
    }
    if (o.tuneKernels !== false && fusedActive()) await this.tuneMatmuls();
    if (evalBase && this.stepsDone === 0 && this.val.length > 0) {
      const valLoss = await this.evaluateIn('evaluating-base');
      if (valLoss !== null) onEvent({ type: 'base-eval', valLoss });
    }
    while (this.stepsDone < this.totalSteps) {
      if (!(await this.boundary())) break;
      this.enter('training', this.stepsDone, this.totalSteps);
      const t0 = performance.now();
      const { loss, gradNorm, tokens, trainedTokens, paddedTokens, lr } = await this.trainStep();
      tokensSeen += tokens;
      const now = performance.now();
      const elapsedMs = now - start;
      this.timeStep(now - t0, paddedTokens);
      onEvent({
        type: 'step',
        step: this.stepsDone,
        totalSteps: this.totalSteps,
        epoch: Math.floor((this.stepsDone - 1) / this.stepsPerEpoch) + 1,
        loss,
        lr,
        gradNorm,
        tokens,
        trainedTokens,
        stepMs: now - t0,
        tokensPerSec: (tokens / (now - t0)) * 1000,
        elapsedMs,
        etaMs: this.etaMs() ?? 0,
      });
      const last = this.stepsDone === this.totalSteps;
      if (this.val.length > 0 && evalsBetween(this.stepsDone - 1, this.stepsDone, this.totalSteps, o.evalEvery) > 0) {
        const valLoss = await this.evaluateIn('evaluating');
        if (valLoss !== null) onEvent({ type: 'eval', step: this.stepsDone, valLoss });
      }
      if (o.checkpointEvery && this.stepsDone % o.checkpointEvery === 0 && !last) {
        onEvent({ type: 'checkpoint', step: this.stepsDone, checkpoint: await this.checkpoint() });
      }
    }
    const cancelled = this.current() === 'cancelled';
    this.state = cancelled ? 'cancelled' : 'done';
    onEvent({ type: 'done', step: this.stepsDone, cancelled, elapsedMs: performance.now() - start, tokens: tokensSeen });
    return { losses: [...this.losses], cancelled };
  }

  /** Mean masked loss over the validation split (no dropout). */
  evaluate(): Promise<number> {
    return evaluate(this.model, this.adapter, this.val, this.options);
  }

  /**
   * Waits out a pause; false once the run is cancelled. pause() and cancel() change the state
   * from outside while a step or a batch is awaited.
   */
  private async boundary(): Promise<boolean> {
    await nextTurn();
    if (this.current() === 'paused') {
      this.onEvent({ type: 'paused', step: this.stepsDone });
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
      if (this.current() === 'running') this.onEvent({ type: 'resumed', step: this.stepsDone });
    }
    return this.current() !== 'cancelled';
  }

  /** Reports progress within a phase; steps report themselves, so 'training' only when entered. */
  private enter(phase: TrainPhase, done: number, total: number): void {
    if (phase === 'training' && this.phase === 'training') return;
    this.phase = phase;
    const remainingHere = phase === 'evaluating' || phase === 'evaluating-base' ? total - done : 0;
    this.onEvent({ type: 'phase', phase, step: this.stepsDone, done, total, elapsedMs: performance.now() - this.startedAt, etaMs: this.etaMs(remainingHere) });
  }

  /** The validation loss, batch by batch; null when cancelled. */
  private async evaluateIn(phase: TrainPhase): Promise<number | null> {
    const t0 = performance.now();
    let batches = 0;
    const loss = await evaluateUntil(this.model, this.adapter, this.val, this.options, async (done, total) => {
      batches = total;
      this.enter(phase, done, total);
      return this.boundary();
    });
    if (loss !== null && batches > 0) {
      this.evalMsPerBatch = (performance.now() - t0) / batches;
      this.evalBatchCount = batches;
    }
    return loss;
  }

  private timeStep(ms: number, paddedTokens: number): void {
    if (this.firstStepMsPerToken === null) this.firstStepMsPerToken = ms / paddedTokens;
    else {
      this.laterStepsMs += ms;
      this.laterStepsTokens += paddedTokens;
    }
  }

  /**
   * Time still to come: the steps left, each an average step's padded tokens at the measured
   * time per token (the first step's, which includes compiling, only until others are measured);
   * every evaluation still due at the measured time per batch (before one was measured, a third
   * of a micro-batch's step: forward only); and what is left of an evaluation under way. Null
   * until a step or an evaluation was timed.
   */
  private etaMs(evalBatchesLeftNow = 0): number | null {
    const msPerToken = this.laterStepsTokens > 0 ? this.laterStepsMs / this.laterStepsTokens : this.firstStepMsPerToken;
    const msPerStep = msPerToken === null ? null : msPerToken * this.paddedTokensPerStep;
    const perBatch = this.evalMsPerBatch ?? (msPerStep === null ? null : msPerStep / (3 * this.options.gradAccum));
    if (perBatch === null) return null;
    const o = this.options;
    const evalBatches = this.evalBatchCount ?? Math.ceil(this.val.length / o.batchSize);
    const evals = this.val.length > 0 ? evalsBetween(this.stepsDone, this.totalSteps, this.totalSteps, o.evalEvery) : 0;
    const stepsLeft = this.totalSteps - this.stepsDone;
    if (stepsLeft > 0 && msPerStep === null) return null;
    return stepsLeft * (msPerStep ?? 0) + (evals * evalBatches + evalBatchesLeftNow) * perBatch;
  }

  async checkpoint(): Promise<TrainCheckpoint> {
    const adapter: Record<string, Float32Array> = {};
    // Copies the checkpoint owns: it may be moved to another thread, and on the cpu backend
    // data() hands out the tensor's own storage.
    for (const [key, v] of loraTensors(this.adapter)) adapter[key] = ((await v.data()) as Float32Array).slice();
    // A step can only be applied with finite gradients, but a huge learning rate can still
    // overflow the weights: such a state is never offered to be saved over the last good one.
    const bad = firstNonFinite(Object.entries(adapter));
    if (bad) throw new NonFiniteTrainingError(this.stepsDone, `adapter tensor ${bad.name} holds ${bad.value} after it`, this.options.learningRate);
    return {
      version: 1,
      step: this.stepsDone,
      options: this.options,
      adapter,
      optimizer: await this.optimizer.getState(),
      losses: [...this.losses],
    };
  }

  /** Continue from a checkpoint of a run with the same data and options. */
  restore(cp: TrainCheckpoint): void {
    for (const [key, v] of loraTensors(this.adapter)) {
      const data = cp.adapter[key];
      if (!data) throw new Error(`checkpoint has no tensor ${key}`);
      if (data.length !== v.size) throw new Error(`checkpoint tensor ${key} has ${data.length} values, expected ${v.size}`);
      assignData(v, data);
    }
    this.optimizer.setState(cp.optimizer);
    this.stepsDone = cp.step;
    this.losses = [...cp.losses];
  }

  dispose(): void {
    this.optimizer.dispose();
  }

  /** Measures the matmul tiles for the row buckets of this run's batches (largest first, at most 4). */
  private async tuneMatmuls(): Promise<void> {
    const epoch = Math.floor(this.stepsDone / this.stepsPerEpoch);
    const buckets = [...new Set(this.epochBatches(epoch).map((b) => rowBucket(b.batchSize * b.seqLen)))].sort((a, b) => b - a).slice(0, 4);
    for (const [i, m] of buckets.entries()) {
      if (!(await this.boundary())) return;
      this.enter('tuning', i, buckets.length);
      // The LoRA products (dA/dB, the down-projection) too, at the adapter's base rank.
      await tuneFrozenMatmuls(linearShapes(this.model.config), m, { rank: this.adapter.config.r });
    }
  }

  private epochBatches(epoch: number): Batch[] {
    if (epoch !== this.cachedEpoch) {
      this.cachedBatches = epochBatches(this.train, this.options, epoch);
      this.cachedEpoch = epoch;
    }
    return this.cachedBatches;
  }

  private async trainStep() {
    const o = this.options;
    const step = this.stepsDone;
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const first = (step % this.stepsPerEpoch) * o.gradAccum;
    const micro = this.epochBatches(epoch).slice(first, first + o.gradAccum);
    const trainedTokens = micro.reduce((s, b) => s + b.trainedTokens, 0);
    const tokens = micro.reduce((s, b) => s + b.attentionMask.reduce((a, x) => a + x, 0), 0);
    const paddedTokens = micro.reduce((s, b) => s + b.batchSize * b.seqLen, 0);
    const lr = learningRate(step, o.learningRate, this.warmupSteps, this.totalSteps, o.schedule);

    let lossSum = tf.scalar(0);
    let grads: tf.Tensor[] | null = null;
    micro.forEach((batch, k) => {
      const r = tf.tidy(() =>
        tf.variableGrads(() => {
          const { hidden } = this.model.forward(batchTensor(batch.inputIds, batch), {
            attentionMask: batchTensor(batch.attentionMask, batch),
            ...(batch.positionIds ? { positionIds: batchTensor(batch.positionIds, batch) } : {}),
            adapter: this.adapter,
            training: true,
            dropoutSeed: (o.seed * 1_000_003 + step * 64 + k) % 2_147_483_647,
          });
          return summedCrossEntropy(this.model, hidden, batch.targets).div(Math.max(1, trainedTokens)) as tf.Scalar;
        }, this.vars),
      );
      const g = this.vars.map((v) => r.grads[v.name]);
      const next = tf.tidy(() => ({ loss: lossSum.add(r.value), grads: grads ? grads.map((a, i) => a.add(g[i])) : g.map((x) => x.clone()) }));
      tf.dispose([lossSum, r.value, ...(grads ?? []), ...Object.values(r.grads)]);
      lossSum = next.loss as tf.Scalar;
      grads = next.grads;
    });
    // Read before the update: a NaN or inf gradient would make every weight NaN once applied.
    const normSq = this.optimizer.gradNormSquared(grads!);
    const [lossData, normSqData] = await Promise.all([lossSum.data(), normSq.data()]);
    const loss = lossData[0]!;
    const gradNorm = Math.fround(Math.sqrt(normSqData[0]!));
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      tf.dispose([lossSum, normSq, ...grads!]);
      throw NonFiniteTrainingError.ofStep(step + 1, loss, gradNorm, o.learningRate);
    }
    const normT = this.optimizer.clipAndApply(grads!, lr, o.maxGradNorm, normSq);
    tf.dispose([lossSum, normSq, normT, ...grads!]);
    this.stepsDone++;
    this.losses.push(loss);
    return { loss, gradNorm, tokens, trainedTokens, paddedTokens, lr };
  }
}

/** Warm-up at or beyond the run's length would never reach the full rate: ~10% of the run instead. */
export function effectiveWarmup(warmup: number, totalSteps: number): number {
  return warmup > 0 && warmup >= totalSteps ? Math.max(1, Math.round(totalSteps / 10)) : warmup;
}

function batchTensor(data: Int32Array, b: Batch): tf.Tensor2D {
  return tf.tensor2d(data, [b.batchSize, b.seqLen], 'int32');
}
