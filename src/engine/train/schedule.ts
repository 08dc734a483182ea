// Learning-rate schedules as in transformers' get_*_schedule_with_warmup: a linear warmup
// from 0, then cosine or linear decay to 0, or constant. `step` counts optimizer steps done.
export type ScheduleKind = 'cosine' | 'linear' | 'constant';

export function learningRate(step: number, base: number, warmup: number, total: number, kind: ScheduleKind): number {
  if (step < warmup) return (base * step) / Math.max(1, warmup);
  if (kind === 'constant') return base;
  const progress = (step - warmup) / Math.max(1, total - warmup);
  if (kind === 'linear') return base * Math.max(0, 1 - progress);
  return base * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
}
