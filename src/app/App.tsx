// The page: header with the backend badge, a tab bar of panels (all stay mounted, so switching
// is instant and nothing loses its state), notices, and the engine's health.
import { memo, useEffect, useRef } from 'react';
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
import { useFocusRescue } from './components/focus';

// Memoised: a panel re-renders only for its own store slices, never because another panel was
// chosen or another panel's data changed (training events arrive several times a second).
const PANEL_COMPONENTS: Record<PanelId, React.ComponentType> = {
  model: memo(ModelPanel),
  data: memo(DataPanel),
  train: memo(TrainPanel),
  compare: memo(ComparePanel),
  export: memo(ExportPanel),
  runs: memo(RunsPanel),
};

type TabState = 'done' | 'active' | 'busy' | 'error' | '';

/** Each tab's state and note as two strings, so the tab bar re-renders only when they change. */
function useTab(id: PanelId): { state: TabState; note: string } {
  const state = useStore((s): TabState => {
    switch (id) {
      case 'model':
        return s.model.status === 'ready' ? 'done' : s.model.status === 'loading' ? 'busy' : s.model.status === 'error' ? 'error' : '';
      case 'data':
        return s.data.status === 'ready' && s.data.summary?.tokenized ? 'done' : s.data.status === 'loading' ? 'busy' : s.data.status === 'error' ? 'error' : '';
      case 'train': {
        const t = s.train.status;
        return ['starting', 'running', 'pausing', 'stopping'].includes(t) ? 'busy' : t === 'done' ? 'done' : t === 'failed' ? 'error' : t === 'paused' ? 'active' : '';
      }
      case 'compare':
        return s.compare.running || s.compare.batch.running ? 'busy' : '';
      case 'export':
        return s.adapter ? 'done' : '';
      default:
        return '';
    }
  });
  const note = useStore((s): string => {
    switch (id) {
      case 'model':
        return s.model.info ? (s.model.info.name.split('/').pop() ?? '') : 'not loaded';
      case 'data':
        return s.data.summary ? `${s.data.summary.counts.examples} examples` : 'none';
      case 'train':
        return s.train.totalSteps ? `step ${s.train.step}/${s.train.totalSteps}` : 'not started';
      case 'compare':
        return s.adapter ? 'base vs tuned' : 'base only';
      case 'export':
        return s.adapter ? `adapter r=${s.adapter.config.r}` : 'no adapter';
      case 'runs':
        return `${s.runs.list.length} saved`;
    }
  });
  return { state, note };
}

const Tab = memo(function Tab({ id, label, index, selected }: { id: PanelId; label: string; index: number; selected: boolean }) {
  const st = useTab(id);
  return (
    <button
      id={`tab-${id}`}
      role="tab"
      type="button"
      aria-selected={selected}
      aria-controls={`panel-${id}`}
      tabIndex={selected ? 0 : -1}
      className={`tab ${selected ? 'selected' : ''} ${st.state}`}
      onClick={() => showPanel(id)}
      onKeyDown={(e) => {
        const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
        if (!d) return;
        const next = PANELS[(index + d + PANELS.length) % PANELS.length]!.id;
        showPanel(next);
        document.getElementById(`tab-${next}`)?.focus();
      }}
    >
      <span className="tab-num" aria-hidden="true">
        {st.state === 'done' ? '✓' : id === 'runs' ? '↻' : index + 1}
      </span>
      <span className="tab-text">
        <span className="tab-label">{label}</span>
        <span className="tab-note">{st.note}</span>
      </span>
    </button>
  );
});

const Notices = memo(function Notices() {
  const notices = useStore((s) => s.notices);
  const ref = useRef<HTMLElement>(null);
  // The page keeps room below its content for the notices, so none of it stays hidden behind
  // them: scrolled to the end, the last line sits above the stack.
  useEffect(() => {
    const el = ref.current!;
    const root = document.documentElement;
    const ro = new ResizeObserver(() => {
      const h = el.offsetHeight;
      root.style.setProperty('--notices-space', h > 0 ? `${h + 16}px` : '0px');
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      root.style.removeProperty('--notices-space');
    };
  }, []);
  return (
    <section ref={ref} className="notices" aria-live="polite" aria-label="Notifications">
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
    </section>
  );
});

const EngineBanners = memo(function EngineBanners() {
  const engine = useStore((s) => s.engine);
  return (
    <>
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
    </>
  );
});

export function App() {
  const panel = useStore((s) => s.panel);
  const tablist = useRef<HTMLDivElement>(null);
  useFocusRescue();

  // The chosen tab in view: on a phone the tab bar scrolls sideways.
  useEffect(() => {
    const list = tablist.current;
    const tab = document.getElementById(`tab-${panel}`);
    if (!list || !tab || list.scrollWidth <= list.clientWidth) return;
    const l = list.getBoundingClientRect();
    const t = tab.getBoundingClientRect();
    if (t.left >= l.left && t.right <= l.right) return;
    list.scrollLeft += t.left - l.left - (l.width - t.width) / 2;
  }, [panel]);

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
      <header className="site-header">
        <div className="topbar">
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
        </div>

        <EngineBanners />

        <nav className="tabs" aria-label="Panels">
          <div className="tablist" role="tablist" aria-label="Panels" ref={tablist}>
            {PANELS.map((p, i) => (
              <Tab key={p.id} id={p.id} label={p.label} index={i} selected={panel === p.id} />
            ))}
          </div>
        </nav>
      </header>

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

      <Notices />

      <footer className="footer muted small">
        WebLoRA · LoRA fine-tuning on WebGPU with TensorFlow.js · adapters in Hugging Face PEFT format
      </footer>
    </div>
  );
}
