// Train: hyperparameters (presets, defaults, one-line explanations), the plan (steps, time and
// memory estimates), Start / Pause / Resume / Stop, progress with ETA, live charts, step log.
import { memo, useEffect, useRef, useState } from 'react';
import { patch, showPanel, useStore, type PhaseProgress } from '../store';
import { HELP, TARGETS, TRAIN_PRESETS, targetPresetOf, type TargetPreset } from './presets';
import { applyPreset, loadSettingsFile, pauseTraining, resumeTraining, startTraining, stopTraining } from './actions';
import { trainCommand } from './cli-command';
import { setTrainConfig } from './plan';
import { CheckField, ErrorCard, NumberField, ProgressBar, Section, SelectField, Stat, Callout } from '../components/ui';
import { LineChart } from './LineChart';
import { MemoryBar } from '../model/ModelPanel';
import { bytes, count, duration, loss as fmtLoss, sci } from '../util/format';
import type { ScheduleKind } from '../../worker/api';

/**
 * Rough sustained FLOP/s of TF.js training per backend, until a run has been measured: what small
 * models reach, where per-op overhead rather than arithmetic sets the pace (stories260K on two
 * cores: ~1,000 tokens/s on wasm, ~100 on cpu or SwiftShader). Larger models do better, so the
 * first estimate errs long; the run's own ETA is measured from its first step.
 */
function assumedFlops(backend: string | undefined, software: boolean | undefined): number {
  if (backend === 'webgpu') return software ? 2e8 : 2e11;
  if (backend === 'wasm') return 1.5e9;
  return 1.5e8;
}

export function TrainPanel() {
  const status = useStore((s) => s.train.status);
  const plan = useStore((s) => s.train.plan);
  const error = useStore((s) => s.train.error);
  const viewing = useStore((s) => s.train.viewing);
  const runId = useStore((s) => s.train.runId);
  const measuredFlops = useStore((s) => s.train.measuredFlops);
  const hasPoints = useStore((s) => s.train.points.length > 0);
  const modelReady = useStore((s) => s.model.status === 'ready');
  const dataReady = useStore((s) => s.data.status === 'ready' && !!s.data.summary?.tokenized);
  const backend = useStore((s) => s.engine.backend);
  const active = ['starting', 'running', 'pausing', 'paused', 'stopping'].includes(status);
  const t = { status, error, viewing, runId, measuredFlops };

  const throughput = measuredFlops ?? assumedFlops(backend?.name, backend?.adapter?.software);
  const estMs = plan ? (((plan.flopsPerEpoch / Math.max(1, plan.stepsPerEpoch)) * plan.totalSteps + plan.evalFlops) * 1000) / throughput : null;
  const config = useStore((s) => s.train.config);
  const warmupTooLong = !!plan && config.warmupSteps > 0 && config.warmupSteps >= plan.totalSteps;

  let blocker: string | null = null;
  if (!modelReady) blocker = 'Load a model first (Model panel).';
  else if (!dataReady) blocker = 'Choose a dataset first (Data panel).';

  return (
    <div className="panel-stack">
      <Section
        title="Run"
        className="run-card"
        actions={
          <div className="run-buttons">
            {!active && (
              <button type="button" className="primary" disabled={!!blocker} onClick={() => void startTraining()}>
                Start training
              </button>
            )}
            {active && t.status !== 'paused' && (
              <button type="button" className="secondary" disabled={t.status !== 'running' && t.status !== 'starting'} onClick={() => void pauseTraining()}>
                {t.status === 'pausing' ? 'Pausing…' : 'Pause'}
              </button>
            )}
            {t.status === 'paused' && (
              <button type="button" className="primary" onClick={() => void resumeTraining()}>
                Resume
              </button>
            )}
            {active && (
              <button type="button" className="danger" disabled={t.status === 'stopping'} onClick={() => void stopTraining()}>
                {t.status === 'stopping' ? 'Stopping…' : 'Stop'}
              </button>
            )}
          </div>
        }
      >
        {blocker && !active && <Callout tone="info">{blocker}</Callout>}
        {t.error && <ErrorCard error={t.error} onDismiss={() => patch('train', { error: null })} />}
        {!active && hasPoints && <h3 className="run-section-title">{t.runId ? 'Last run' : `Saved run: ${t.viewing?.name ?? ''}`}</h3>}
        {(active || hasPoints || status === 'stopped' || status === 'failed') && <RunProgress />}
        {t.status === 'done' && (
          <div className="next-row">
            <Callout tone="success" title="Training finished">
              The adapter is saved with the run.
            </Callout>
            <button type="button" onClick={() => showPanel('compare')}>
              Compare base and tuned →
            </button>
          </div>
        )}
        {plan && !active && hasPoints && <h3 className="run-section-title">Next run</h3>}
        {plan && !active && (
          <dl className="stats" aria-label="Training plan">
            <Stat label="Steps" value={count(plan.totalSteps)} sub={`${plan.stepsPerEpoch} per epoch`} />
            <Stat label="Examples" value={`${count(plan.trainExamples)} / ${count(plan.valExamples)}`} sub="train / validation" />
            <Stat label="Tokens per epoch" value={count(plan.tokensPerEpoch)} sub={`${count(plan.paddedTokensPerEpoch)} with padding`} />
            <Stat label="Estimated time" value={`≈ ${duration(estMs)}`} sub={t.measuredFlops ? 'from the last run' : `rough, for ${backend?.name ?? 'this backend'}`} />
            <Stat label="Estimated memory" value={`≈ ${bytes(plan.memory.totalBytes)}`} sub={`${count(plan.memory.loraParameters)} LoRA parameters`} />
          </dl>
        )}
        {warmupTooLong && !active && (
          <Callout tone="warning">
            {`Warm-up (${config.warmupSteps} steps) is as long as the whole run (${plan!.totalSteps} steps): the learning rate would never reach its peak. The run will warm up over about 10% of its steps instead; lower it, or train longer.`}
          </Callout>
        )}
        {plan &&
          !active &&
          plan.warnings.map((w) => (
            <Callout key={w} tone="warning">
              {`${w[0]!.toUpperCase()}${w.slice(1)}.`}
            </Callout>
          ))}
        {plan && !active && <MemoryBar weights={plan.memory.weightsBytes} lora={plan.memory.loraBytes} activations={plan.memory.activationBytes} />}
      </Section>

      <div className="train-layout">
        <Settings />

        <div className="charts">
          <Charts />
          <StepLog />
        </div>
      </div>
    </div>
  );
}


const Settings = memo(function Settings() {
  const c = useStore((s) => s.train.config);
  const preset = useStore((s) => s.train.preset);
  const adapter = useStore((s) => s.adapter);
  const locked = useStore((s) => ['starting', 'running', 'pausing', 'paused', 'stopping'].includes(s.train.status));
  const t = { preset };
  const targetPreset = targetPresetOf(c.lora.targetModules);
  return (
    <Section title="Settings" className="settings">
      <div className="presets" role="radiogroup" aria-label="Training presets">
        {Object.entries(TRAIN_PRESETS).map(([name, p]) => (
          <button
            key={name}
            type="button"
            role="radio"
            aria-checked={t.preset === name}
            className={`preset ${t.preset === name ? 'active' : ''}`}
            disabled={locked}
            onClick={() => applyPreset(name, p.config)}
          >
            <strong>{p.label}</strong>
            <span>{p.description}</span>
          </button>
        ))}
      </div>
      {t.preset === 'custom' && <p className="muted small">Custom settings.</p>}

      <fieldset disabled={locked}>
        <legend>Adapter</legend>
        <SelectField<'new' | 'current'>
          label="Start from"
          help={HELP.init}
          value={c.init}
          options={[
            { value: 'new', label: 'A new adapter' },
            { value: 'current', label: adapter ? `The current adapter (${adapter.origin}, r=${adapter.config.r})` : 'The current adapter (none loaded)' },
          ]}
          onChange={(init) => setTrainConfig({ init })}
        />
        {c.init === 'new' || !adapter ? (
          <>
            <div className="row2">
              <NumberField label="Rank (r)" help={HELP.rank} value={c.lora.r} min={1} max={256} step={1} onChange={(r) => setTrainConfig({ lora: { ...c.lora, r: Math.max(1, Math.round(r)) } })} />
              <NumberField label="Alpha" help={HELP.alpha} value={c.lora.alpha} min={0.01} step="any" onChange={(alpha) => setTrainConfig({ lora: { ...c.lora, alpha } })} />
            </div>
            <SelectField<TargetPreset | 'custom'>
              label="Target modules"
              help={`${HELP.targets} Now: ${c.lora.targetModules.join(', ')}.`}
              value={targetPreset}
              options={[...Object.entries(TARGETS).map(([k, v]) => ({ value: k as TargetPreset, label: v.label })), ...(targetPreset === 'custom' ? [{ value: 'custom' as const, label: 'Custom' }] : [])]}
              onChange={(v) => v !== 'custom' && setTrainConfig({ lora: { ...c.lora, targetModules: [...TARGETS[v].modules] } })}
            />
            <div className="row2">
              <NumberField label="Dropout" help={HELP.dropout} value={c.lora.dropout} min={0} max={0.9} step={0.01} onChange={(dropout) => setTrainConfig({ lora: { ...c.lora, dropout } })} />
              <CheckField label="rsLoRA scaling" help={HELP.rslora} checked={c.lora.useRslora} onChange={(useRslora) => setTrainConfig({ lora: { ...c.lora, useRslora } })} />
            </div>
          </>
        ) : (
          <p className="muted small">
            Continues the loaded adapter: rank {adapter.config.r}, alpha {adapter.config.alpha}, on {adapter.config.targetModules.join(', ')}.
          </p>
        )}
      </fieldset>

      <fieldset disabled={locked}>
        <legend>Optimiser</legend>
        <div className="row2">
          <NumberField label="Learning rate" help={HELP.learningRate} value={c.learningRate} min={0} step="any" onChange={(learningRate) => setTrainConfig({ learningRate })} />
          <SelectField<ScheduleKind>
            label="Schedule"
            help={HELP.schedule}
            value={c.schedule}
            options={[
              { value: 'cosine', label: 'Cosine' },
              { value: 'linear', label: 'Linear' },
              { value: 'constant', label: 'Constant' },
            ]}
            onChange={(schedule) => setTrainConfig({ schedule })}
          />
        </div>
        <div className="row2">
          <NumberField label="Warmup steps" help={HELP.warmupSteps} value={c.warmupSteps} min={0} step={1} onChange={(v) => setTrainConfig({ warmupSteps: Math.max(0, Math.round(v)) })} />
          <NumberField label="Weight decay" help={HELP.weightDecay} value={c.weightDecay} min={0} step="any" onChange={(weightDecay) => setTrainConfig({ weightDecay })} />
        </div>
        <NumberField label="Max gradient norm" help={HELP.maxGradNorm} value={c.maxGradNorm} min={0} step="any" onChange={(maxGradNorm) => setTrainConfig({ maxGradNorm })} />
      </fieldset>

      <fieldset disabled={locked}>
        <legend>Length of training</legend>
        <div className="row2">
          <NumberField label="Epochs" help={HELP.epochs} value={c.epochs} min={1} step={1} onChange={(v) => setTrainConfig({ epochs: Math.max(1, Math.round(v)) })} />
          <NumberField label="Max steps" help={HELP.maxSteps} value={c.maxSteps} min={0} step={1} onChange={(v) => setTrainConfig({ maxSteps: Math.max(0, Math.round(v)) })} />
        </div>
        <div className="row2">
          <NumberField label="Batch size" help={HELP.batchSize} value={c.batchSize} min={1} step={1} onChange={(v) => setTrainConfig({ batchSize: Math.max(1, Math.round(v)) })} />
          <NumberField label="Gradient accumulation" help={HELP.gradAccum} value={c.gradAccum} min={1} step={1} onChange={(v) => setTrainConfig({ gradAccum: Math.max(1, Math.round(v)) })} />
        </div>
      </fieldset>

      <fieldset disabled={locked}>
        <legend>Evaluation and checkpoints</legend>
        <div className="row2">
          <NumberField label="Eval every (steps)" help={HELP.evalEvery} value={c.evalEvery} min={0} step={1} onChange={(v) => setTrainConfig({ evalEvery: Math.max(0, Math.round(v)) })} />
          <NumberField label="Checkpoint every (steps)" help={HELP.checkpointEvery} value={c.checkpointEvery} min={0} step={1} onChange={(v) => setTrainConfig({ checkpointEvery: Math.max(0, Math.round(v)) })} />
        </div>
        <div className="row2">
          <NumberField label="Seed" help={HELP.seed} value={c.seed} min={0} step={1} onChange={(v) => setTrainConfig({ seed: Math.max(0, Math.round(v)) })} />
          <CheckField label="Shuffle" help={HELP.shuffle} checked={c.shuffle} onChange={(shuffle) => setTrainConfig({ shuffle })} />
        </div>
        <CheckField label="Evaluate the base model first" help={HELP.evalBase} checked={c.evalBase} onChange={(evalBase) => setTrainConfig({ evalBase })} />
      </fieldset>
      <SettingsFile locked={locked} />
    </Section>
  );
});

/** Settings from a file (an exported training config), and the same run as a CLI command. */
function SettingsFile({ locked }: { locked: boolean }) {
  const c = useStore((s) => s.train.config);
  const data = useStore((s) => s.data);
  const model = useStore((s) => s.model.info);
  const command = trainCommand(
    c,
    data.options,
    model ? (model.source.kind === 'hub' ? model.source.repoId : `path/to/${model.name}`) : 'MODEL_DIR',
    data.input?.name ?? 'data.jsonl',
  );
  return (
    <div className="settings-file">
      <label className={`button secondary small-button ${locked ? 'disabled' : ''}`} htmlFor="train-settings-file">
        Load settings from a file…
      </label>
      <input
        id="train-settings-file"
        className="visually-hidden-input"
        type="file"
        accept=".json,application/json"
        aria-label="Training settings file"
        disabled={locked}
        onChange={(e) => {
          const file = e.currentTarget.files?.[0];
          e.currentTarget.value = '';
          if (file) void loadSettingsFile(file);
        }}
      />
      <details>
        <summary>The same run in a terminal</summary>
        <pre className="command" tabIndex={0} aria-label="weblora train command">
          {command}
        </pre>
        <button type="button" className="secondary small-button" onClick={() => void navigator.clipboard?.writeText(command.replace(/ \\\n\s+/g, ' '))}>
          Copy command
        </button>
      </details>
    </div>
  );
}

const STATUS_WORDS: Record<string, string> = { running: 'training', done: 'finished', idle: 'saved run' };

function phaseText(p: PhaseProgress): string {
  switch (p.phase) {
    case 'tuning':
      return `Measuring GPU kernels for this device, ${p.done + 1}/${p.total}`;
    case 'evaluating-base':
      return `Evaluating the base model, ${p.done}/${p.total}`;
    case 'evaluating':
      return `Evaluating on the validation split, ${p.done}/${p.total}`;
    case 'training':
      return 'Training';
  }
}

/** Re-renders every second while `active`: the elapsed clock runs between the engine's events. */
function useTicking(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, [active]);
  return active ? Math.max(now, Date.now()) : now;
}

function clockText(status: string, elapsedMs: number, etaMs: number | null): string | undefined {
  if (status === 'starting') return undefined;
  if (status === 'running' || status === 'pausing' || status === 'stopping') {
    const eta = etaMs === null ? 'ETA after the first step' : etaMs < 1000 ? 'finishing' : `ETA ${duration(etaMs)}`;
    return `${duration(elapsedMs)} elapsed · ${eta}`;
  }
  return elapsedMs ? `${duration(elapsedMs)} elapsed` : undefined;
}

const RunProgress = memo(function RunProgress() {
  const t = useStore((s) => s.train);
  const ticking = t.status === 'running' || t.status === 'pausing' || t.status === 'stopping';
  const now = useTicking(ticking);
  const since = ticking && t.clockAt ? Math.max(0, now - t.clockAt) : 0;
  const elapsedMs = t.elapsedMs + since;
  const etaMs = t.etaMs === null ? null : Math.max(0, t.etaMs - since);
  const last = t.points.at(-1);
  const first = t.points[0];
  const lastEval = t.evals.at(-1);
  const boundary = t.phase?.phase === 'training' || !t.phase ? 'step' : t.phase.phase === 'tuning' ? 'measurement' : 'batch';
  const statusText: Record<string, string> = {
    starting: 'Starting…',
    running: t.phase ? phaseText(t.phase) : 'Training',
    pausing: `Pausing after this ${boundary}…`,
    paused: 'Paused',
    stopping: `Stopping after this ${boundary}…`,
    done: 'Finished',
    stopped: 'Stopped',
    failed: 'Failed',
    idle: `Saved run (${t.viewing?.status ? (STATUS_WORDS[t.viewing.status] ?? t.viewing.status) : 'history'})`,
  };
  return (
    <div className="run-progress" aria-live="polite">
      <ProgressBar
        label={`${statusText[t.status] ?? t.status} — step ${t.step} of ${t.totalSteps || '…'}`}
        value={t.step}
        max={t.totalSteps}
        indeterminate={t.status === 'starting' && t.step === 0}
        detail={clockText(t.status, elapsedMs, etaMs)}
      />
      <dl className="stats compact" aria-label="Run status">
        <Stat
          label="Status"
          value={
            <span data-status={t.status} data-phase={t.phase?.phase} data-elapsed-ms={Math.round(t.elapsedMs)} data-eta-ms={t.etaMs === null ? '' : Math.round(t.etaMs)}>
              {t.status === 'idle' && t.viewing?.status ? (STATUS_WORDS[t.viewing.status] ?? t.viewing.status) : (STATUS_WORDS[t.status] ?? t.status)}
            </span>
          }
        />
        <Stat label="Train loss" value={fmtLoss(last?.loss)} sub={first && last && first !== last ? `from ${fmtLoss(first.loss)}` : undefined} />
        <Stat label="Validation loss" value={fmtLoss(lastEval?.valLoss)} sub={t.baseEval !== null ? `base ${fmtLoss(t.baseEval)}` : undefined} />
        <Stat label="Learning rate" value={last ? sci(last.lr) : '—'} />
        <Stat label="Tokens / s" value={last ? Math.round(last.tokensPerSec).toLocaleString('en-US') : '—'} />
        <Stat label="Checkpoint" value={t.checkpointStep !== null ? `step ${t.checkpointStep}` : '—'} />
      </dl>
    </div>
  );
});

const Charts = memo(function Charts() {
  const points = useStore((s) => s.train.points);
  const evals = useStore((s) => s.train.evals);
  const baseEval = useStore((s) => s.train.baseEval);
  const t = { points, evals, baseEval };
  const steps = t.points.map((p) => p.step);
  const evalAt = new Map(t.evals.map((e) => [e.step, e.valLoss]));
  const lossSeries = [
    { label: 'train loss', color: '#4f46e5', values: t.points.map((p) => p.loss) },
    { label: 'eval loss', color: '#e11d48', values: steps.map((s) => evalAt.get(s) ?? null), points: true },
  ];
  if (t.baseEval !== null) lossSeries.push({ label: 'base eval loss', color: '#94a3b8', values: steps.map(() => t.baseEval), points: false, dash: [6, 4] } as (typeof lossSeries)[number]);
  return (
    <div className="chart-grid">
      <LineChart title="Loss" name="loss" x={steps} series={lossSeries} format={(v) => v.toFixed(3)} height={240} />
      <LineChart title="Learning rate" name="lr" x={steps} series={[{ label: 'learning rate', color: '#0891b2', values: t.points.map((p) => p.lr) }]} format={sci} />
      <LineChart title="Tokens per second" name="tokens" x={steps} series={[{ label: 'tokens/s', color: '#16a34a', values: t.points.map((p) => p.tokensPerSec) }]} format={(v) => Math.round(v).toString()} />
      <LineChart title="Gradient norm" name="gradnorm" x={steps} series={[{ label: 'grad norm', color: '#d97706', values: t.points.map((p) => p.gradNorm) }]} format={(v) => v.toFixed(3)} />
    </div>
  );
});

const StepLog = memo(function StepLog() {
  const log = useStore((s) => s.train.log);
  const ref = useRef<HTMLOListElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 60) el.scrollTop = el.scrollHeight;
  }, [log]);
  return (
    <Section title="Step log">
      {log.length === 0 ? (
        <p className="muted small">Each optimizer step is logged here: loss, learning rate, gradient norm and speed.</p>
      ) : (
        <ol className="log" ref={ref} aria-label="Step log" aria-live="off" tabIndex={0}>
          {log.map((l, i) => (
            <li key={i}>{l}</li>
          ))}
        </ol>
      )}
    </Section>
  );
});
