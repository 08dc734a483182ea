// What a training run reports, in order: start, step (and eval/checkpoint) per optimizer
// step, paused/resumed around a pause, done. Plain data, so it crosses the worker boundary.
import type { TrainCheckpoint } from './trainer';

export type TrainEvent =
  | { type: 'start'; totalSteps: number; stepsPerEpoch: number; step: number }
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
      etaMs: number;
    }
  | { type: 'eval'; step: number; valLoss: number }
  | { type: 'checkpoint'; step: number; checkpoint: TrainCheckpoint }
  | { type: 'paused'; step: number }
  | { type: 'resumed'; step: number }
  | { type: 'done'; step: number; cancelled: boolean; elapsedMs: number; tokens: number };
