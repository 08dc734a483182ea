// Base and tuned outputs for one prompt, streamed token by token with the same seed and
// sampling — the worker runs them as two rows of one batched generation, so both columns fill
// at once; and the batch mode over the validation split.
import * as Comlink from 'comlink';
import { engine } from '../engine-instance';
import { emptyOutput, patch, useStore } from '../store';
import { uiError } from '../errors';
import type { BatchRow, PromptSpec, TextDelta, Which } from '../../worker/api';

function promptSpec(): PromptSpec | null {
  const c = useStore.getState().compare;
  const vals = useStore.getState().data.summary?.valPrompts ?? [];
  const picked = c.valIndex !== null ? vals.find((v) => v.index === c.valIndex) : undefined;
  // A validation prompt as picked (and not edited since) uses the exact training tokens.
  if (picked && picked.instruction === c.prompt) return { kind: 'validation', index: picked.index };
  if (!c.prompt.trim()) return null;
  return c.useTemplate ? { kind: 'instruction', text: c.prompt } : { kind: 'raw', text: c.prompt };
}

/** Counts Generate clicks: only the latest request may write to the outputs. */
let generation = 0;

export async function generateBoth(): Promise<void> {
  const st = useStore.getState();
  const spec = promptSpec();
  if (!spec) {
    patch('compare', { error: { kind: 'not-ready', title: 'No prompt', message: 'Type a prompt or pick a validation example.', hint: '' } });
    return;
  }
  const models: Which[] = st.adapter ? ['base', 'tuned'] : ['base'];
  patch('compare', {
    running: true,
    error: null,
    outputs: { base: { ...emptyOutput(), status: 'running' }, tuned: { ...emptyOutput(), status: st.adapter ? 'running' : 'idle' } },
  });
  const request = ++generation;
  const onText = (deltas: TextDelta[]) => {
    // Text of an earlier request, or after this one's final result, is never appended.
    if (request !== generation) return;
    const o = { ...useStore.getState().compare.outputs };
    for (const d of deltas) if (o[d.which].status !== 'done') o[d.which] = { ...o[d.which], text: o[d.which].text + d.text, status: 'running' };
    patch('compare', { outputs: o });
  };
  try {
    const results = await engine.call((api) => api.generate({ prompt: spec, models, sampling: st.compare.sampling }, Comlink.proxy(onText)));
    if (request !== generation) return;
    const o = { ...useStore.getState().compare.outputs };
    for (const r of results) o[r.which] = { text: r.text, status: 'done', tokens: r.tokens, ms: r.ms, finishReason: r.finishReason, generation: r.generation, rows: r.rows };
    patch('compare', { outputs: o });
  } catch (e) {
    const o = useStore.getState().compare.outputs;
    const stopped = (s: typeof o.base) => ({ ...s, status: s.status === 'done' || s.status === 'idle' ? s.status : ('error' as const) });
    patch('compare', { outputs: { base: stopped(o.base), tuned: stopped(o.tuned) }, error: uiError('Generation failed', e) });
  } finally {
    patch('compare', { running: false });
  }
}

export async function stopGeneration(): Promise<void> {
  await engine.call((api) => api.stopGenerate()).catch(() => {});
}

export async function runBatch(): Promise<void> {
  const st = useStore.getState();
  patch('compare', { error: null, batch: { ...st.compare.batch, running: true, rows: [], summary: null } });
  const onRow = (row: BatchRow) => {
    const b = useStore.getState().compare.batch;
    patch('compare', { batch: { ...b, rows: [...b.rows, row] } });
  };
  try {
    const summary = await engine.call((api) => api.evaluateValidation(st.compare.sampling, st.compare.batch.limit, Comlink.proxy(onRow)));
    patch('compare', { batch: { ...useStore.getState().compare.batch, summary } });
  } catch (e) {
    patch('compare', { error: uiError('The batch comparison failed', e) });
  } finally {
    patch('compare', { batch: { ...useStore.getState().compare.batch, running: false } });
  }
}
