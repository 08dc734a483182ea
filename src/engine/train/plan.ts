// How a run's examples become optimizer steps: each epoch's batches (shuffled from the run's seed
// and the epoch) and the step counts. The Trainer runs exactly this plan and the UI shows it
// before the run, so the steps promised are the steps taken.
import { makeBatches, type Batch, type BatchExample } from '../data/batches';
import type { TrainOptions } from './trainer';

export type PlanOptions = Pick<TrainOptions, 'batchSize' | 'gradAccum' | 'epochs' | 'maxSteps' | 'maxLength' | 'padId' | 'seed' | 'shuffle' | 'packing'>;

export function epochBatches(train: readonly BatchExample[], o: PlanOptions, epoch: number): Batch[] {
  return makeBatches(train, {
    batchSize: o.batchSize,
    maxLength: o.maxLength,
    padId: o.padId,
    seed: o.seed * 1000 + epoch,
    shuffle: o.shuffle,
    ...(o.packing ? { packing: true } : {}),
  });
}

export interface RunPlan {
  stepsPerEpoch: number;
  /** Epochs × steps per epoch, or maxSteps when that is smaller (0 or absent: no limit). */
  totalSteps: number;
  /** Real tokens in one epoch, and padded tokens (what the device computes). */
  tokensPerEpoch: number;
  paddedTokensPerEpoch: number;
  /** Rows × length of the largest batch: what sizes memory. */
  longestSeq: number;
  /** The first epoch's batches. */
  batches: Batch[];
}

export function planRun(train: readonly BatchExample[], o: PlanOptions): RunPlan {
  const batches = epochBatches(train, o, 0);
  const stepsPerEpoch = Math.ceil(batches.length / Math.max(1, o.gradAccum));
  const byEpochs = stepsPerEpoch * o.epochs;
  let tokensPerEpoch = 0;
  let paddedTokensPerEpoch = 0;
  for (const b of batches) {
    paddedTokensPerEpoch += b.batchSize * b.seqLen;
    for (const m of b.attentionMask) tokensPerEpoch += m;
  }
  return {
    stepsPerEpoch,
    totalSteps: o.maxSteps ? Math.min(o.maxSteps, byEpochs) : byEpochs,
    tokensPerEpoch,
    paddedTokensPerEpoch,
    longestSeq: batches.reduce((m, b) => Math.max(m, b.seqLen), 0),
    batches,
  };
}

/** Evaluations after steps from+1..to of a run: every `evalEvery` steps, and after its last. */
export function evalsBetween(from: number, to: number, totalSteps: number, evalEvery: number): number {
  const periodic = evalEvery > 0 ? Math.floor(to / evalEvery) - Math.floor(from / evalEvery) : 0;
  const last = from < totalSteps && totalSteps <= to && !(evalEvery > 0 && totalSteps % evalEvery === 0) ? 1 : 0;
  return periodic + last;
}

/** How many times a run evaluates, the base model's evaluation included. */
export function evaluationsOf(totalSteps: number, evalEvery: number, evalBase: boolean, valExamples: number): number {
  return valExamples === 0 ? 0 : (evalBase ? 1 : 0) + evalsBetween(0, totalSteps, totalSteps, evalEvery);
}
