// Model: from the Hugging Face hub (presets, repo id, revision, hub host; per-file and overall
// progress) or from a folder on disk; then its summary and a training memory estimate.
import { patch, showPanel, useStore } from '../store';
import { HUB_PRESETS, cancelLoad, loadFromFiles, loadFromHub } from './actions';
import { Callout, Empty, ErrorCard, Field, ProgressBar, Section, Stat } from '../components/ui';
import { FileDrop } from '../components/FileDrop';
import { bytes, count, duration } from '../util/format';

export function ModelPanel() {
  const m = useStore((s) => s.model);
  const engineReady = useStore((s) => s.engine.status === 'ready');
  const training = useStore((s) => ['starting', 'running', 'pausing', 'paused', 'stopping'].includes(s.train.status));
  const loading = m.status === 'loading';
  const disabled = loading || !engineReady || training;
  const files = Object.entries(m.progress?.files ?? {});

  return (
    <div className="panel-grid two">
      <Section title="From the Hugging Face hub" description="Downloaded once, then cached in this browser: the second load needs no network.">
        <div className="presets" role="group" aria-label="Model presets">
          {HUB_PRESETS.map((p) => (
            <button
              key={p.repoId}
              type="button"
              className={`chip ${m.repoId === p.repoId ? 'active' : ''}`}
              aria-pressed={m.repoId === p.repoId}
              onClick={() => patch('model', { repoId: p.repoId })}
              disabled={disabled}
            >
              {p.label}
              <span className="chip-sub">{p.size}</span>
            </button>
          ))}
        </div>
        <form
          className="form-row"
          onSubmit={(e) => {
            e.preventDefault();
            void loadFromHub();
          }}
        >
          <Field label="Repo id" className="grow">
            {(id) => (
              <input
                id={id}
                type="text"
                value={m.repoId}
                spellCheck={false}
                autoComplete="off"
                placeholder="org/name"
                disabled={disabled}
                onChange={(e) => patch('model', { repoId: e.currentTarget.value })}
              />
            )}
          </Field>
          <Field label="Revision" className="narrow">
            {(id) => <input id={id} type="text" value={m.revision} spellCheck={false} disabled={disabled} onChange={(e) => patch('model', { revision: e.currentTarget.value })} />}
          </Field>
          <div className="form-submit">
            {loading && m.loadingFrom === 'hub' ? (
              <button type="button" className="secondary" onClick={() => void cancelLoad()}>
                Cancel download
              </button>
            ) : (
              <button type="submit" disabled={disabled || !m.repoId.trim()}>
                Load from hub
              </button>
            )}
          </div>
        </form>
        <details className="advanced">
          <summary>Hub settings</summary>
          <Field label="Hub host" help="Any server with the hub's URL layout ({repo}/resolve/{revision}/{file}), e.g. a mirror.">
            {(id, d) => (
              <input
                id={id}
                aria-describedby={d}
                type="url"
                value={m.host}
                spellCheck={false}
                disabled={disabled}
                onChange={(e) => patch('model', { host: e.currentTarget.value })}
              />
            )}
          </Field>
        </details>
        {loading && m.loadingFrom === 'hub' && m.progress && (
          <div className="downloads" aria-live="polite">
            <ProgressBar
              label="Overall"
              value={m.progress.totalLoaded}
              max={m.progress.totalBytes}
              indeterminate={m.progress.totalBytes === 0}
              detail={m.progress.totalBytes ? `${bytes(m.progress.totalLoaded)} of ${bytes(m.progress.totalBytes)}` : 'Checking files…'}
            />
            {files.map(([name, f]) => (
              <ProgressBar key={name} label={name} value={f.loaded} max={f.total} detail={f.done ? 'done' : f.total ? `${bytes(f.loaded)} of ${bytes(f.total)}` : bytes(f.loaded)} />
            ))}
          </div>
        )}
      </Section>

      <Section title="From your disk" description="A model folder with config.json, tokenizer.json, tokenizer_config.json and model.safetensors.">
        <FileDrop
          label="Model files"
          directory
          multiple
          disabled={disabled}
          onFiles={(f) => void loadFromFiles(f)}
          title="Drop a model folder here"
          hint="Nothing is uploaded: the files are read in this browser."
        >
          <label className={`button secondary small-button ${disabled ? 'disabled' : ''}`} htmlFor="model-files-loose">
            Choose files…
          </label>
          <input
            id="model-files-loose"
            className="visually-hidden-input"
            type="file"
            multiple
            aria-label="Choose config, tokenizer and weights files one by one"
            accept=".json,.safetensors"
            disabled={disabled}
            onChange={(e) => {
              const list = [...(e.currentTarget.files ?? [])];
              e.currentTarget.value = '';
              if (list.length) void loadFromFiles(list);
            }}
          />
        </FileDrop>
        {loading && m.loadingFrom === 'files' && <ProgressBar label="Reading the model files" value={0} max={0} indeterminate />}
      </Section>

      <div className="span-all">
        {m.error && <ErrorCard error={m.error} onDismiss={() => patch('model', { error: null })} />}
        {loading && m.loadingFrom === null && <ProgressBar label="Loading the model again" value={0} max={0} indeterminate />}
        {modelSummary()}
      </div>
    </div>
  );

  function modelSummary() {
    const info = m.info;
    if (!info) {
      return (
        <Section title="Model">
          <Empty title="No model loaded yet" icon="◇">
            Pick a preset and press <strong>Load from hub</strong>, or drop a model folder. Llama, Mistral, Qwen2 and Qwen3 models with a single model.safetensors are supported.
          </Empty>
        </Section>
      );
    }
    const mem = m.memory;
    return (
      <Section
        title={info.name}
        description={info.source.kind === 'hub' ? `From ${info.source.host.replace(/^https?:\/\//, '')} · revision ${info.source.revision}` : 'From files on this computer'}
        actions={
          <button type="button" onClick={() => showPanel('data')}>
            Next: choose data →
          </button>
        }
      >
        <dl className="stats" aria-label="Model summary">
          <Stat label="Family" value={info.family} />
          <Stat label="Parameters" value={count(info.parameters)} />
          <Stat label="Layers" value={info.layers} />
          <Stat label="Hidden size" value={info.hiddenSize} />
          <Stat label="Heads" value={`${info.heads} / ${info.kvHeads} kv`} />
          <Stat label="Vocabulary" value={count(info.vocabSize)} />
          <Stat label="Chat template" value={info.hasChatTemplate ? 'yes' : 'no'} sub={info.hasChatTemplate ? undefined : `uses ${info.defaultTemplate}`} />
          <Stat label="Weights" value={bytes(info.weightsBytes)} sub={`loaded in ${duration(info.loadMs)}`} />
        </dl>
        {mem && (
          <div className="memory" aria-label="Memory estimate">
            <h3>Training memory estimate</h3>
            <p className="muted small">At the current settings (Train and Data panels): {count(mem.loraParameters)} trainable LoRA parameters.</p>
            <MemoryBar weights={mem.weightsBytes} lora={mem.loraBytes} activations={mem.activationBytes} />
          </div>
        )}
        {info.family && !mem && <Callout tone="info">The memory estimate appears once training settings are known.</Callout>}
      </Section>
    );
  }
}

export function MemoryBar(props: { weights: number; lora: number; activations: number }) {
  const total = props.weights + props.lora + props.activations;
  const part = (v: number) => `${Math.max(0.5, (100 * v) / Math.max(1, total))}%`;
  return (
    <div className="membar">
      <div className="membar-track" role="img" aria-label={`About ${bytes(total)} in total`}>
        <span className="seg weights" style={{ width: part(props.weights) }} />
        <span className="seg lora" style={{ width: part(props.lora) }} />
        <span className="seg acts" style={{ width: part(props.activations) }} />
      </div>
      <ul className="legend">
        <li>
          <span className="key weights" /> Frozen weights {bytes(props.weights)}
        </li>
        <li>
          <span className="key lora" /> LoRA + AdamW state {bytes(props.lora)}
        </li>
        <li>
          <span className="key acts" /> Activations {bytes(props.activations)}
        </li>
        <li className="total">≈ {bytes(total)} total</li>
      </ul>
    </div>
  );
}
