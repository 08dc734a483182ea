// train_log.json: the run's settings, its data report, and one record per optimizer step (plus
// one per evaluation), in snake_case like the Hugging Face trainer's log history. Rewritten
// whole at each checkpoint and at the end, so a killed run leaves a log as recent as its checkpoint.
import { join } from 'node:path';
import type { DataReport } from '../../engine/data';
import type { TrainEvent } from '../../engine/train/events';
import { writeFileAtomic } from '../shared/atomic-write';
import { duration, perplexity } from '../shared/format';

export const TRAIN_LOG = 'train_log.json';

export interface StepRecord {
  type: 'step';
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  grad_norm: number;
  /** Real (non-padding) tokens in the step, and how many of them were trained. */
  tokens: number;
  trained_tokens: number;
  tokens_per_sec: number;
  /** Since the start of the run, across resumes. */
  elapsed_ms: number;
}

export interface EvalRecord {
  type: 'eval';
  step: number;
  val_loss: number;
  val_perplexity: number;
}

export type LogRecord = StepRecord | EvalRecord;

/** 'failed': stopped by an error (a non-finite loss); the log says which in `error`. */
export type RunStatus = 'running' | 'done' | 'interrupted' | 'failed';

export interface LogHeader {
  model: string;
  data: string;
  backend: string;
  /** On webgpu: the fused WGSL kernels or stock TF.js ops. */
  kernels: string;
  /** The frozen base's precision ('fp32' or 'f16-base'), and what ran its matmuls. */
  precision: string;
  frozen_matmul: string;
  template: string;
  lora: unknown;
  options: unknown;
  total_steps: number;
  data_report: Omit<DataReport, 'lengths'>;
}

export function stepRecord(e: Extract<TrainEvent, { type: 'step' }>, elapsedBeforeMs: number): StepRecord {
  return {
    type: 'step',
    step: e.step,
    epoch: e.epoch,
    loss: e.loss,
    lr: e.lr,
    grad_norm: e.gradNorm,
    tokens: e.tokens,
    trained_tokens: e.trainedTokens,
    tokens_per_sec: e.tokensPerSec,
    elapsed_ms: elapsedBeforeMs + e.elapsedMs,
  };
}

export function evalRecord(step: number, valLoss: number): EvalRecord {
  return { type: 'eval', step, val_loss: valLoss, val_perplexity: perplexity(valLoss) };
}

export function progressLine(e: Extract<TrainEvent, { type: 'step' }>, elapsedMs: number): string {
  const width = String(e.totalSteps).length;
  return (
    `step ${String(e.step).padStart(width)}/${e.totalSteps}  epoch ${e.epoch}  loss ${e.loss.toFixed(4)}  ` +
    `lr ${e.lr.toExponential(2)}  grad ${e.gradNorm.toFixed(3)}  ${Math.round(e.tokensPerSec).toLocaleString('en-US')} tok/s  ` +
    `elapsed ${duration(elapsedMs)}  eta ${duration(e.etaMs)}\n`
  );
}

export function evalLine(r: EvalRecord): string {
  return `eval at step ${r.step}: val loss ${r.val_loss.toFixed(4)}  perplexity ${r.val_perplexity.toFixed(3)}\n`;
}

/** Synchronous so that a checkpoint and its log are both on disk before the next step starts. */
export function writeTrainLog(outDir: string, header: LogHeader, status: RunStatus, records: readonly LogRecord[], error?: string): void {
  writeFileAtomic(join(outDir, TRAIN_LOG), trainLogText(header, status, records, error));
}

export function trainLogText(header: LogHeader, status: RunStatus, records: readonly LogRecord[], error?: string): string {
  const steps = records.filter((r) => r.type === 'step');
  const body = {
    format: 'weblora-train-log',
    version: 1,
    status,
    ...(error === undefined ? {} : { error }),
    steps_done: steps.length ? steps[steps.length - 1]!.step : 0,
    ...header,
    records,
  };
  // One record per line: the file stays readable and greppable at thousands of steps.
  const head = JSON.stringify({ ...body, records: [] }, null, 2);
  const lines = records.map((r) => `    ${JSON.stringify(r)}`).join(',\n');
  const text = records.length ? head.replace(/"records": \[\]\n}$/, () => `"records": [\n${lines}\n  ]\n}`) : head;
  return text + '\n';
}
