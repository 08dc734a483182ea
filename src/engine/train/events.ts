// What a training run reports, in order: start, the base model's validation loss, step (and
// eval/checkpoint) per optimizer step, paused/resumed around a pause, done; and, throughout,
// which phase is running with its progress. Plain data, so it crosses the worker boundary.
import type { TrainCheckpoint } from './trainer';

/**
 * What the run is doing: timing kernel candidates on this device, the base model's evaluation,
 * optimizer steps, or an evaluation of the adapter. Pause and stop act at the next boundary of
 * whichever it is (a tile measured, a batch evaluated, a step taken).
 */
export type TrainPhase = 'tuning' | 'evaluating-base' | 'training' | 'evaluating';

export type TrainEvent =
  | { type: 'start'; totalSteps: number; stepsPerEpoch: number; step: number }
  | { type: 'phase'; phase: TrainPhase; step: number; done: number; total: number; elapsedMs: number; etaMs: number | null }
  | { type: 'warning'; message: string }
  | { type: 'base-eval'; valLoss: number }
  | {
      type: 'step';
      step: number;
      totalSteps: number;
      epoch: number;
      loss: number;
      lr: number;
      gradNorm: number;
      /** Real (non-padding) tokens in the step. */
      tokens: number;
      trainedTokens: number;
      stepMs: number;
      tokensPerSec: number;
      elapsedMs: number;
      /** Steps and evaluations still to come, from measured times. */
      etaMs: number;
    }
  | { type: 'eval'; step: number; valLoss: number }
  | { type: 'checkpoint'; step: number; checkpoint: TrainCheckpoint }
  | { type: 'paused'; step: number }
  | { type: 'resumed'; step: number }
  | { type: 'done'; step: number; cancelled: boolean; elapsedMs: number; tokens: number };
