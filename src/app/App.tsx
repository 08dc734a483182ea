// The page: header with the backend badge, a tab bar of panels (all stay mounted, so switching
// is instant and nothing loses its state), notices, and the engine's health.
import { useEffect } from 'react';
import { PANELS, dismiss, showPanel, useStore, type PanelId } from './store';
import { BackendBadge } from './backend/BackendBadge';
import { ModelPanel } from './model/ModelPanel';
import { DataPanel } from './data/DataPanel';
import { TrainPanel } from './train/TrainPanel';
import { ComparePanel } from './compare/ComparePanel';
import { ExportPanel } from './export/ExportPanel';
import { RunsPanel } from './runs/RunsPanel';
import { restartEngine } from './boot';
import { duration } from './util/format';

const PANEL_COMPONENTS: Record<PanelId, () => React.JSX.Element> = {
  model: ModelPanel,
  data: DataPanel,
  train: TrainPanel,
  compare: ComparePanel,
  export: ExportPanel,
  runs: RunsPanel,
};

function useTabStatus(): Record<PanelId, { state: 'done' | 'active' | 'busy' | 'error' | ''; note: string }> {
  const model = useStore((s) => s.model);
  const data = useStore((s) => s.data);
  const train = useStore((s) => s.train);
  const adapter = useStore((s) => s.adapter);
  const runs = useStore((s) => s.runs.list.length);
  const compareBusy = useStore((s) => s.compare.running || s.compare.batch.running);
  return {
    model: {
      state: model.status === 'ready' ? 'done' : model.status === 'loading' ? 'busy' : model.status === 'error' ? 'error' : '',
      note: model.info ? (model.info.name.split('/').pop() ?? '') : 'not loaded',
    },
    data: {
      state: data.status === 'ready' && data.summary?.tokenized ? 'done' : data.status === 'loading' ? 'busy' : data.status === 'error' ? 'error' : '',
      note: data.summary ? `${data.summary.counts.examples} examples` : 'none',
    },
    train: {
      state: ['starting', 'running', 'pausing', 'stopping'].includes(train.status) ? 'busy' : train.status === 'done' ? 'done' : train.status === 'failed' ? 'error' : train.status === 'paused' ? 'active' : '',
      note: train.totalSteps ? `step ${train.step}/${train.totalSteps}` : 'not started',
    },
    compare: { state: compareBusy ? 'busy' : '', note: adapter ? 'base vs tuned' : 'base only' },
    export: { state: adapter ? 'done' : '', note: adapter ? `adapter r=${adapter.config.r}` : 'no adapter' },
    runs: { state: '', note: `${runs} saved` },
  };
}

export function App() {
  const panel = useStore((s) => s.panel);
  const notices = useStore((s) => s.notices);
  const engine = useStore((s) => s.engine);
  const status = useTabStatus();

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      const i = Number(e.key) - 1;
      if (i >= 0 && i < PANELS.length) {
        e.preventDefault();
        showPanel(PANELS[i]!.id);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            <svg viewBox="0 0 64 64" width="28" height="28">
              <rect width="64" height="64" rx="14" fill="currentColor" />
              <path d="M14 44 L24 20 L32 36 L40 20 L50 44" fill="none" stroke="#fff" strokeWidth="6" strokeLinecap="round" strokeLinejoin="round" />
            </svg>
          </span>
          <div>
            <h1>WebLoRA</h1>
            <p className="tagline">Fine-tune a language model in your browser. Nothing leaves this machine.</p>
          </div>
        </div>
        <BackendBadge />
      </header>

      {engine.unresponsiveSince !== null && (
        <div className="banner warning" role="status">
          The engine has not answered for {duration(Date.now() - engine.unresponsiveSince)}: it may be busy with a large step.
          <button type="button" className="secondary" onClick={() => void restartEngine()}>
            Restart engine
          </button>
        </div>
      )}
      {engine.status === 'failed' && engine.error && (
        <div className="banner error" role="alert">
          <strong>{engine.error.title}.</strong> {engine.error.message} {engine.error.hint}
          <button type="button" className="secondary" onClick={() => void restartEngine()}>
            Try again
          </button>
        </div>
      )}

      <nav className="tabs" role="tablist" aria-label="Panels">
        {PANELS.map((p, i) => {
          const st = status[p.id];
          return (
            <button
              key={p.id}
              id={`tab-${p.id}`}
              role="tab"
              type="button"
              aria-selected={panel === p.id}
              aria-controls={`panel-${p.id}`}
              tabIndex={panel === p.id ? 0 : -1}
              className={`tab ${panel === p.id ? 'selected' : ''} ${st.state}`}
              onClick={() => showPanel(p.id)}
              onKeyDown={(e) => {
                const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
                if (!d) return;
                const next = PANELS[(i + d + PANELS.length) % PANELS.length]!.id;
                showPanel(next);
                document.getElementById(`tab-${next}`)?.focus();
              }}
            >
              <span className="tab-num" aria-hidden="true">
                {st.state === 'done' ? '✓' : p.id === 'runs' ? '↻' : i + 1}
              </span>
              <span className="tab-text">
                <span className="tab-label">{p.label}</span>
                <span className="tab-note">{st.note}</span>
              </span>
            </button>
          );
        })}
      </nav>

      <main className="main">
        {PANELS.map((p) => {
          const Panel = PANEL_COMPONENTS[p.id];
          return (
            <div key={p.id} id={`panel-${p.id}`} role="tabpanel" aria-labelledby={`tab-${p.id}`} hidden={panel !== p.id} className="panel">
              <Panel />
            </div>
          );
        })}
      </main>

      <div className="notices" aria-live="polite" aria-label="Notifications">
        {notices.map((n) => (
          <div key={n.id} className={`notice ${n.tone}`} role={n.tone === 'error' ? 'alert' : 'status'}>
            <div className="notice-text">
              <strong>{n.title}</strong>
              {n.message && <span>{n.message}</span>}
              {n.hint && <span className="notice-hint">{n.hint}</span>}
            </div>
            <button type="button" className="notice-close" aria-label="Dismiss notification" onClick={() => dismiss(n.id)}>
              ×
            </button>
          </div>
        ))}
      </div>

      <footer className="footer muted small">
        WebLoRA · LoRA fine-tuning on WebGPU with TensorFlow.js · adapters in Hugging Face PEFT format
      </footer>
    </div>
  );
}
