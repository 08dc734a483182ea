// Compare: one prompt (typed, or a validation example) through the base model and the tuned
// one, side by side, streamed from one batched generation, with the same seed and sampling; and a batch over the
// validation split with both losses and both outputs. Output is always text, never HTML.
import { patch, useStore, type OutputState } from '../store';
import { generateBoth, runBatch, stopGeneration } from './actions';
import { CheckField, ErrorCard, Field, NumberField, Section, Callout, Empty } from '../components/ui';
import { duration, loss as fmtLoss } from '../util/format';
import type { SamplingSettings, ValPrompt } from '../../worker/api';

const NO_PROMPTS: ValPrompt[] = [];

export function ComparePanel() {
  const c = useStore((s) => s.compare);
  const adapter = useStore((s) => s.adapter);
  const modelReady = useStore((s) => s.model.status === 'ready');
  const template = useStore((s) => s.data.summary?.template ?? s.model.info?.defaultTemplate ?? 'alpaca');
  const vals = useStore((s) => s.data.summary?.valPrompts ?? NO_PROMPTS);
  const trainStatus = useStore((s) => s.train.status);
  const trainingBusy = ['starting', 'running', 'pausing', 'stopping'].includes(trainStatus);
  const busy = c.running || c.batch.running;
  const canGenerate = modelReady && !busy && !trainingBusy;
  const setSampling = (p: Partial<SamplingSettings>) => patch('compare', { sampling: { ...c.sampling, ...p } });
  // A held-out example as picked (not edited since): its answer in the dataset goes beside the outputs.
  const picked = vals.find((v) => v.index === c.valIndex && v.instruction === c.prompt);

  return (
    <div className="panel-stack">
      {!modelReady && <Callout tone="info">Load a model first; train or import an adapter to see the tuned output beside the base model’s.</Callout>}
      {modelReady && !adapter && <Callout tone="info">No adapter yet: only the base model answers. Train one (Train panel) or import one (Export panel).</Callout>}
      {trainingBusy && <Callout tone="warning">Training is running. Pause it to compare with the adapter as it is now.</Callout>}
      <div className="compare-layout">
        <Section title="Ask both models">
          {vals.length > 0 && (
            <Field label="Validation example" help="Held-out examples the adapter never trained on.">
              {(id, d) => (
                <select
                  id={id}
                  aria-describedby={d}
                  value={c.valIndex ?? ''}
                  onChange={(e) => {
                    const v = e.currentTarget.value;
                    if (v === '') return patch('compare', { valIndex: null });
                    const p = vals[Number(v)]!;
                    patch('compare', { valIndex: p.index, prompt: p.instruction });
                  }}
                >
                  <option value="">Pick one…</option>
                  {vals.map((v) => (
                    <option key={v.index} value={v.index}>
                      {`#${v.index + 1} (line ${v.line}): ${v.instruction.slice(0, 70)}${v.instruction.length > 70 ? '…' : ''}`}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          )}
          <Field label="Prompt">
            {(id) => (
              <textarea
                id={id}
                rows={4}
                value={c.prompt}
                placeholder="Type an instruction for both models, or pick a held-out example above"
                onChange={(e) => patch('compare', { prompt: e.currentTarget.value })}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && canGenerate) void generateBoth();
                }}
              />
            )}
          </Field>
          <CheckField
            label={`Wrap in the training template (${template})`}
            help="As in training: the instruction goes into the template and the model writes the response."
            checked={c.useTemplate}
            onChange={(useTemplate) => patch('compare', { useTemplate })}
          />
          <details className="advanced" open>
            <summary>Sampling (the same for both)</summary>
            <CheckField label="Greedy" help="Always the most likely token: deterministic." checked={c.sampling.greedy} onChange={(greedy) => setSampling({ greedy })} />
            <div className="row3">
              <NumberField label="Temperature" value={c.sampling.temperature} min={0.01} max={5} step={0.05} disabled={c.sampling.greedy} onChange={(temperature) => setSampling({ temperature })} />
              <NumberField label="Top-p" value={c.sampling.topP} min={0.01} max={1} step={0.05} disabled={c.sampling.greedy} onChange={(topP) => setSampling({ topP })} />
              <NumberField label="Top-k" value={c.sampling.topK} min={0} step={1} disabled={c.sampling.greedy} onChange={(v) => setSampling({ topK: Math.max(0, Math.round(v)) })} />
            </div>
            <div className="row3">
              <NumberField label="Max new tokens" value={c.sampling.maxNewTokens} min={1} max={2048} step={1} onChange={(v) => setSampling({ maxNewTokens: Math.max(1, Math.round(v)) })} />
              <NumberField label="Repetition penalty" value={c.sampling.repetitionPenalty} min={1} max={3} step={0.05} onChange={(repetitionPenalty) => setSampling({ repetitionPenalty })} />
              <NumberField label="Seed" value={c.sampling.seed} min={0} step={1} onChange={(v) => setSampling({ seed: Math.max(0, Math.round(v)) })} />
            </div>
          </details>
          <div className="button-row">
            <button type="button" className="primary" disabled={!canGenerate} onClick={() => void generateBoth()}>
              Generate
            </button>
            {c.running && (
              <button type="button" className="secondary" onClick={() => void stopGeneration()}>
                Stop generating
              </button>
            )}
          </div>
          {c.error && <ErrorCard error={c.error} onDismiss={() => patch('compare', { error: null })} />}
        </Section>
        <div className="outputs">
          <Output title="Base model" which="base" o={c.outputs.base} />
          <Output title={adapter ? `Tuned (${adapter.origin} adapter, r=${adapter.config.r})` : 'Tuned (no adapter)'} which="tuned" o={c.outputs.tuned} disabled={!adapter} />
          {picked && <Reference example={picked} />}
        </div>
      </div>
      <BatchSection canRun={modelReady && !busy && !trainingBusy && vals.length > 0} />
    </div>
  );
}

function Reference({ example }: { example: ValPrompt }) {
  return (
    <section className="card output reference" aria-label="Reference answer">
      <header className="card-head">
        <h2>Reference answer</h2>
        <span className="chip small">{`dataset line ${example.line}`}</span>
      </header>
      <pre className="generation" data-output="reference" tabIndex={0}>
        {example.reference}
      </pre>
    </section>
  );
}

function Output(props: { title: string; which: string; o: OutputState; disabled?: boolean }) {
  const { o } = props;
  const status: Record<OutputState['status'], string> = { idle: '', running: 'generating…', done: 'done', error: 'stopped' };
  return (
    <section
      className={`card output ${props.disabled ? 'disabled' : ''}`}
      aria-label={`${props.title} output`}
      data-status={o.status}
      data-generation={o.generation}
      data-rows={o.rows}
    >
      <header className="card-head">
        <h2>{props.title}</h2>
        <span className={`chip small ${o.status}`}>{status[o.status]}</span>
      </header>
      {/* React renders strings as text: model output can never become markup. */}
      <pre className="generation" data-output={props.which} aria-live="polite" aria-busy={o.status === 'running'} tabIndex={0}>
        {o.text}
        {o.status === 'running' && <span className="caret" aria-hidden="true" />}
      </pre>
      {o.status === 'done' && (
        <p className="muted small">
          {o.tokens} tokens · {duration(o.ms)} · {o.finishReason === 'eos' ? 'ended with EOS' : o.finishReason === 'length' ? 'hit max new tokens' : o.finishReason}
          {o.rows && o.rows > 1 ? ` · one batch of ${o.rows} rows` : ''}
        </p>
      )}
      {props.disabled && o.status === 'idle' && <p className="muted small">Train or import an adapter to see this side.</p>}
    </section>
  );
}

function BatchSection({ canRun }: { canRun: boolean }) {
  const b = useStore((s) => s.compare.batch);
  const vals = useStore((s) => s.data.summary?.valPrompts.length ?? 0);
  const adapter = useStore((s) => s.adapter);
  return (
    <Section
      title="Batch over the validation split"
      description="Each held-out example: its loss under the base and the tuned model, and both outputs, with the sampling above."
      actions={
        <div className="button-row">
          <NumberField label="Examples" value={b.limit} min={1} max={Math.max(1, vals)} step={1} onChange={(v) => patch('compare', { batch: { ...b, limit: Math.max(1, Math.round(v)) } })} />
          {b.running ? (
            <button type="button" className="secondary" onClick={() => void stopGeneration()}>
              Stop
            </button>
          ) : (
            <button type="button" disabled={!canRun} onClick={() => void runBatch()}>
              Run batch comparison
            </button>
          )}
        </div>
      }
    >
      {b.rows.length === 0 && !b.running && <Empty title={vals ? 'No batch run yet' : 'No validation split'}>{vals ? `${vals} validation examples are available.` : 'Set a validation share in the Data panel.'}</Empty>}
      {b.summary && (
        <p className="batch-summary">
          Mean loss over {b.summary.rows} examples: base <strong>{fmtLoss(b.summary.baseLoss)}</strong>
          {b.summary.tunedLoss !== null && (
            <>
              {' '}
              → tuned <strong>{fmtLoss(b.summary.tunedLoss)}</strong>
            </>
          )}
        </p>
      )}
      {b.rows.length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Batch comparison results">
          <table className="batch" aria-label="Batch comparison">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Instruction</th>
                <th scope="col">Reference</th>
                <th scope="col">Base loss</th>
                {adapter && <th scope="col">Tuned loss</th>}
                <th scope="col">Base output</th>
                {adapter && <th scope="col">Tuned output</th>}
              </tr>
            </thead>
            <tbody>
              {b.rows.map((r) => (
                <tr key={r.index}>
                  {/* data-label: the column's name, shown above each value where rows stack (phones). */}
                  <td className="num" data-label="#">{r.index + 1}</td>
                  <td className="text" data-label="Instruction">{r.instruction}</td>
                  <td className="text muted" data-label="Reference">{r.reference}</td>
                  <td className="num" data-label="Base loss">{fmtLoss(r.baseLoss)}</td>
                  {adapter && <td className={`num ${r.tunedLoss !== null && r.tunedLoss < r.baseLoss ? 'better' : ''}`} data-label="Tuned loss">{fmtLoss(r.tunedLoss)}</td>}
                  <td className="text" data-label="Base output">{r.base}</td>
                  {adapter && <td className="text" data-label="Tuned output">{r.tuned ?? '—'}</td>}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {b.running && <p className="muted small">Running… {b.rows.length} done.</p>}
    </Section>
  );
}
