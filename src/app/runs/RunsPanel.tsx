// Runs kept in this browser: status, model, data, progress and losses; open one (charts and
// adapter), resume an interrupted one from its checkpoint, download or delete it.
import { useStore, showPanel } from '../store';
import { continueRun, downloadRunAdapter, openRunAdapter, removeRun, resumeRun } from './actions';
import { viewRun } from '../train/actions';
import { Empty, Section } from '../components/ui';
import { date, loss as fmtLoss } from '../util/format';
import type { RunRecord } from './db';

const STATUS_LABEL: Record<RunRecord['status'], string> = {
  running: 'running',
  paused: 'paused',
  done: 'finished',
  stopped: 'stopped',
  failed: 'failed',
  interrupted: 'interrupted',
};

function Sparkline({ values }: { values: number[] }) {
  if (values.length < 2) return null;
  const W = 120;
  const H = 32;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pts = values.map((v, i) => `${((i / (values.length - 1)) * W).toFixed(1)},${(H - 2 - ((v - lo) / Math.max(1e-9, hi - lo)) * (H - 4)).toFixed(1)}`);
  return (
    <svg className="sparkline" viewBox={`0 0 ${W} ${H}`} aria-hidden="true">
      <polyline points={pts.join(' ')} />
    </svg>
  );
}

export function RunsPanel() {
  const runs = useStore((s) => s.runs);
  const current = useStore((s) => s.train.runId);
  const training = useStore((s) => ['starting', 'running', 'pausing', 'paused', 'stopping'].includes(s.train.status));

  if (!runs.loaded) return <Section title="Runs">Loading…</Section>;
  return (
    <Section title="Runs" description="Every run is kept in this browser (IndexedDB): its settings, data summary, loss history, checkpoints and adapter.">
      {runs.list.length === 0 ? (
        <Empty title="No runs yet" icon="↻">
          Runs appear here as soon as training starts, and stay after a reload.
        </Empty>
      ) : (
        <ul className="runs" aria-label="Saved runs">
          {runs.list.map((r) => {
            const last = r.points.at(-1);
            const live = r.id === current && training;
            const resumable = (r.status === 'interrupted' || r.status === 'failed') && r.checkpointStep !== null && !live;
            return (
              <li key={r.id} className={`run ${r.status}`} data-run-id={r.id} aria-label={`Run ${r.name}`}>
                <div className="run-main">
                  <div className="run-title">
                    <strong>{r.name}</strong>
                    <span className={`chip small status-${r.status}`}>{live ? 'training now' : STATUS_LABEL[r.status]}</span>
                  </div>
                  <div className="muted small">
                    {date(r.createdAt)} · {r.model.name} · {r.data.name} ({r.data.counts.train} train / {r.data.counts.val} val) · {r.backend}
                  </div>
                  <div className="run-meta small">
                    step {r.step} of {r.totalSteps || '?'} · r={r.config.lora.r}, lr {r.config.learningRate} · loss {fmtLoss(r.points[0]?.loss)} → {fmtLoss(last?.loss)}
                    {r.evals.length > 0 && <> · val {fmtLoss(r.evals.at(-1)!.valLoss)}</>}
                    {r.checkpointStep !== null && <> · checkpoint at step {r.checkpointStep}</>}
                  </div>
                  {r.error && <div className="error-text small">{r.error}</div>}
                </div>
                <div className="spark-cell">
                  <Sparkline values={r.points.map((p) => p.loss)} />
                </div>
                <div className="run-actions">
                  {resumable && (
                    <button type="button" className="primary" disabled={training} onClick={() => void resumeRun(r)}>
                      Resume
                    </button>
                  )}
                  <button
                    type="button"
                    className="secondary"
                    disabled={live}
                    onClick={() => {
                      viewRun(r);
                      showPanel('train');
                    }}
                  >
                    Show charts
                  </button>
                  {r.hasAdapter && (
                    <>
                      <button type="button" className="secondary" disabled={training} onClick={() => void openRunAdapter(r)}>
                        Load adapter
                      </button>
                      {(r.status === 'done' || r.status === 'stopped') && (
                        <button type="button" className="secondary" disabled={training} onClick={() => void continueRun(r)}>
                          Continue training
                        </button>
                      )}
                      <button type="button" className="secondary" onClick={() => void downloadRunAdapter(r)}>
                        Download
                      </button>
                    </>
                  )}
                  <button
                    type="button"
                    className="link danger-text"
                    disabled={live}
                    aria-label={`Delete run ${r.name}`}
                    onClick={() => {
                      if (confirm(`Delete the run “${r.name}” and its adapter from this browser?`)) void removeRun(r);
                    }}
                  >
                    Delete
                  </button>
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </Section>
  );
}
