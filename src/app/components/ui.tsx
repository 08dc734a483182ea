// Small building blocks shared by the panels.
import { useId, type ReactNode } from 'react';
import type { UiError } from '../store';

export function Field(props: {
  label: string;
  help?: string;
  children: (id: string, describedBy: string | undefined) => ReactNode;
  className?: string;
}) {
  const id = useId();
  const helpId = props.help ? `${id}-help` : undefined;
  return (
    <div className={`field ${props.className ?? ''}`}>
      <label htmlFor={id} className="field-label">
        {props.label}
      </label>
      {props.children(id, helpId)}
      {props.help && (
        <span id={helpId} className="field-help">
          {props.help}
        </span>
      )}
    </div>
  );
}

export function NumberField(props: {
  label: string;
  help?: string;
  value: number;
  onChange: (v: number) => void;
  min?: number;
  max?: number;
  step?: number | 'any';
  disabled?: boolean;
}) {
  return (
    <Field label={props.label} help={props.help}>
      {(id, d) => (
        <input
          id={id}
          aria-describedby={d}
          type="number"
          inputMode="decimal"
          value={Number.isFinite(props.value) ? props.value : ''}
          min={props.min}
          max={props.max}
          step={props.step ?? 'any'}
          disabled={props.disabled}
          onChange={(e) => {
            const v = e.currentTarget.valueAsNumber;
            if (Number.isFinite(v)) props.onChange(v);
          }}
        />
      )}
    </Field>
  );
}

export function SelectField<T extends string>(props: {
  label: string;
  help?: string;
  value: T;
  options: { value: T; label: string }[];
  onChange: (v: T) => void;
  disabled?: boolean;
}) {
  return (
    <Field label={props.label} help={props.help}>
      {(id, d) => (
        <select id={id} aria-describedby={d} value={props.value} disabled={props.disabled} onChange={(e) => props.onChange(e.currentTarget.value as T)}>
          {props.options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function CheckField(props: { label: string; help?: string; checked: boolean; onChange: (v: boolean) => void; disabled?: boolean }) {
  const id = useId();
  return (
    <div className="field check">
      <label htmlFor={id} className="check-label">
        <input id={id} type="checkbox" checked={props.checked} disabled={props.disabled} aria-describedby={props.help ? `${id}-help` : undefined} onChange={(e) => props.onChange(e.currentTarget.checked)} />
        <span>{props.label}</span>
      </label>
      {props.help && (
        <span id={`${id}-help`} className="field-help">
          {props.help}
        </span>
      )}
    </div>
  );
}

export function ProgressBar(props: { label: string; value: number; max: number; detail?: string; indeterminate?: boolean }) {
  const pct = props.max > 0 ? Math.min(100, (100 * props.value) / props.max) : 0;
  return (
    <div className="progress">
      <div className="progress-head">
        <span className="progress-label">{props.label}</span>
        {props.detail && <span className="progress-detail">{props.detail}</span>}
      </div>
      <div
        className={`progress-track ${props.indeterminate ? 'indeterminate' : ''}`}
        role="progressbar"
        aria-label={props.label}
        aria-valuemin={0}
        aria-valuemax={props.indeterminate ? undefined : props.max}
        aria-valuenow={props.indeterminate ? undefined : props.value}
      >
        <div className="progress-fill" style={{ width: props.indeterminate ? undefined : `${pct}%` }} />
      </div>
    </div>
  );
}

export function ErrorCard(props: { error: UiError; onDismiss?: () => void; children?: ReactNode }) {
  return (
    <div className="callout error" role="alert">
      <div className="callout-title">{props.error.title}</div>
      <div className="callout-body">{props.error.message}</div>
      {props.error.hint && <div className="callout-hint">{props.error.hint}</div>}
      {props.children}
      {props.onDismiss && (
        <button type="button" className="link" onClick={props.onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}

export function Callout(props: { tone: 'info' | 'warning' | 'success'; title?: string; children: ReactNode }) {
  return (
    <div className={`callout ${props.tone}`}>
      {props.title && <div className="callout-title">{props.title}</div>}
      <div className="callout-body">{props.children}</div>
    </div>
  );
}

export function Stat(props: { label: string; value: ReactNode; sub?: ReactNode; tone?: 'good' | 'bad' | 'warn' }) {
  return (
    <div className={`stat ${props.tone ?? ''}`}>
      <dt>{props.label}</dt>
      <dd>
        {props.value}
        {props.sub !== undefined && <span className="stat-sub">{props.sub}</span>}
      </dd>
    </div>
  );
}

export function Empty(props: { title: string; children?: ReactNode; icon?: string }) {
  return (
    <div className="empty">
      {props.icon && (
        <div className="empty-icon" aria-hidden="true">
          {props.icon}
        </div>
      )}
      <div className="empty-title">{props.title}</div>
      {props.children && <div className="empty-body">{props.children}</div>}
    </div>
  );
}

export function Section(props: { title: string; actions?: ReactNode; children: ReactNode; className?: string; description?: ReactNode }) {
  const id = useId();
  return (
    <section className={`card ${props.className ?? ''}`} aria-labelledby={id}>
      <header className="card-head">
        <div>
          <h2 id={id}>{props.title}</h2>
          {props.description && <p className="card-desc">{props.description}</p>}
        </div>
        {props.actions && <div className="card-actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}
