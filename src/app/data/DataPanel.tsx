// Data: a JSONL/JSON file (dropped, chosen, or the sample), its detected format (overridable,
// with a column mapper), bad lines by number, a token preview with trained tokens highlighted,
// a length histogram, truncation and the train/validation split.
import { patch, showPanel, useStore } from '../store';
import { clearDataset, setDataOptions, openDatasetFile, openSampleDataset } from './actions';
import { Callout, Empty, ErrorCard, NumberField, ProgressBar, Section, SelectField, Stat } from '../components/ui';
import { FileDrop } from '../components/FileDrop';
import { count, percent } from '../util/format';
import type { DatasetFormat, DataSummary, FileReport, IssueList, PromptTemplate } from '../../worker/api';
import { TokenPreview } from './TokenPreview';
import { LengthHistogram } from './LengthHistogram';

const FORMAT_LABELS: Record<DatasetFormat, string> = {
  alpaca: 'Alpaca {instruction, input, output}',
  'prompt-completion': 'Prompt / completion',
  chat: 'Chat {messages}',
  sharegpt: 'ShareGPT {conversations}',
  'self-instruct': 'Self-instruct {instruction, instances}',
  text: 'Plain text {text}',
  columns: 'Column mapping…',
};

const TEMPLATE_LABELS: Record<'auto' | PromptTemplate, string> = {
  auto: 'Automatic (the model’s chat template, else Alpaca)',
  'chat-template': 'The model’s chat template',
  alpaca: 'Alpaca (### Instruction / ### Response)',
  chatml: 'ChatML as text',
  plain: 'User: / Assistant:',
  raw: 'Prompt and answer back to back',
};

export function DataPanel() {
  const d = useStore((s) => s.data);
  const modelReady = useStore((s) => s.model.status === 'ready');
  const engineReady = useStore((s) => s.engine.status === 'ready');
  const training = useStore((s) => ['starting', 'running', 'pausing', 'paused', 'stopping'].includes(s.train.status));
  const locked = training || !engineReady;
  const s = d.summary;
  const o = d.options;
  const keys = d.error?.keys ?? s?.files[0]?.detection.keys ?? [];
  const detected = s?.files[0];
  const showMapper = o.format === 'columns' || d.error?.kind === 'dataset-format';
  // The columns chosen, else the common pair the records were mapped by on their own.
  const mapping = o.columns ?? detected?.columns;

  return (
    <div className="panel-stack">
      <Section
        title="Training data"
        description="JSON Lines or a JSON array: Alpaca, prompt/completion, chat messages, ShareGPT, self-instruct, plain text, or any columns you map."
        actions={
          d.input && (
            <button type="button" className="link" onClick={clearDataset} disabled={locked}>
              Clear
            </button>
          )
        }
      >
        <FileDrop
          label="Dataset"
          accept=".jsonl,.json,.txt,application/json"
          disabled={locked}
          onFiles={(files) => void openDatasetFile(files[0]!)}
          title={d.input ? <>Using <strong>{d.input.name}</strong> — drop another file to replace it</> : 'Drop a .jsonl or .json file here'}
          hint="Read in this browser; nothing is uploaded."
          compact={!!d.input}
        >
          <button type="button" className="secondary" onClick={() => void openSampleDataset()} disabled={locked}>
            Try the sample dataset
          </button>
        </FileDrop>
        {d.status === 'loading' && (
          <ProgressBar
            label={d.progress ? 'Tokenizing' : 'Reading the dataset'}
            value={d.progress?.[0] ?? 0}
            max={d.progress?.[1] ?? 0}
            indeterminate={!d.progress}
            detail={d.progress ? `${count(d.progress[0])} of ${count(d.progress[1])} examples` : undefined}
          />
        )}
        {d.error && <ErrorCard error={d.error} onDismiss={d.error.kind === 'dataset-format' ? undefined : () => patch('data', { error: null })} />}
        {d.input && (
          <div className="options-grid" aria-label="Dataset options">
            <SelectField<'auto' | DatasetFormat>
              label="Format"
              help={detected?.detected ? detectedHelp(detected) : o.format === 'auto' ? 'Detected from the records.' : 'Chosen by you'}
              value={o.format}
              disabled={locked}
              options={[
                { value: 'auto', label: 'Detect automatically' },
                ...(Object.keys(FORMAT_LABELS) as DatasetFormat[]).map((f) => ({ value: f, label: FORMAT_LABELS[f] })),
              ]}
              onChange={(format) => setDataOptions({ format }, true)}
            />
            <SelectField<'auto' | PromptTemplate>
              label="Prompt template"
              help={s?.template ? `In use: ${TEMPLATE_LABELS[s.template]}` : 'How a conversation becomes text.'}
              value={o.template}
              disabled={locked}
              options={(Object.keys(TEMPLATE_LABELS) as ('auto' | PromptTemplate)[]).map((t) => ({ value: t, label: TEMPLATE_LABELS[t] }))}
              onChange={(template) => setDataOptions({ template }, true)}
            />
            <SelectField<'responses' | 'all'>
              label="Train on"
              help="Loss on the answers only (usual), or on every token."
              value={o.trainOn}
              disabled={locked}
              options={[
                { value: 'responses', label: 'Responses only' },
                { value: 'all', label: 'All tokens' },
              ]}
              onChange={(trainOn) => setDataOptions({ trainOn }, true)}
            />
            <NumberField label="Max length" help="Tokens per example; longer ones are cut (and counted)." value={o.maxLength} min={8} max={8192} step={1} disabled={locked} onChange={(maxLength) => setDataOptions({ maxLength: Math.round(maxLength) })} />
            <NumberField
              label="Validation share (%)"
              help="Held out for evaluation loss and comparisons."
              value={Math.round(o.valFraction * 1000) / 10}
              min={0}
              max={50}
              step={1}
              disabled={locked}
              onChange={(v) => setDataOptions({ valFraction: Math.min(0.5, Math.max(0, v / 100)) })}
            />
            <NumberField label="Split seed" help="Which examples go to validation." value={o.seed} min={0} step={1} disabled={locked} onChange={(seed) => setDataOptions({ seed: Math.round(seed) })} />
            {showMapper && (
              <div className="mapper span-all" role="group" aria-label="Column mapping">
                <p className="muted small">Map the fields of your records: the prompt is what the model reads, the response what it learns to write.</p>
                <div className="options-grid">
                  {(['prompt', 'response', 'system'] as const).map((role) => (
                    <SelectField
                      key={role}
                      label={role === 'prompt' ? 'Prompt column' : role === 'response' ? 'Response column' : 'System column (optional)'}
                      value={mapping?.[role] ?? ''}
                      disabled={locked}
                      options={[{ value: '', label: role === 'system' ? '(none)' : 'Choose…' }, ...keys.map((k) => ({ value: k, label: k }))]}
                      onChange={(v) => {
                        const cols = { prompt: mapping?.prompt ?? '', response: mapping?.response ?? '', ...(mapping?.input ? { input: mapping.input } : {}), ...(mapping?.system ? { system: mapping.system } : {}) };
                        if (role === 'system') {
                          if (v) cols.system = v;
                          else delete (cols as { system?: string }).system;
                        } else cols[role] = v;
                        // Prepared once both required columns are chosen.
                        if (cols.prompt && cols.response) setDataOptions({ format: 'columns', columns: cols }, true);
                        else patch('data', { options: { ...o, format: 'columns', columns: cols } });
                      }}
                    />
                  ))}
                </div>
              </div>
            )}
          </div>
        )}
      </Section>

      {!d.input && d.status !== 'loading' && (
        <Section title="Preview">
          <Empty title="No dataset yet" icon="≡">
            Drop a JSONL file above, or press <strong>Try the sample dataset</strong> for a small set of story instructions made for tiny models.
          </Empty>
        </Section>
      )}

      {s && d.input && (
        <>
          <Section
            title="Summary"
            actions={
              s.tokenized && (
                <button type="button" onClick={() => showPanel('train')}>
                  Next: train →
                </button>
              )
            }
          >
            {!s.tokenized && (
              <Callout tone="info" title={modelReady ? 'Preparing…' : 'Load a model to tokenize'}>
                The format and bad lines are known; token counts, the preview, lengths and the split need the model’s tokenizer.
              </Callout>
            )}
            <dl className="stats" aria-label="Dataset summary">
              <Stat label="Records" value={count(s.counts.records)} />
              <Stat label="Good" value={count(s.counts.good)} tone="good" />
              <Stat label="Bad lines" value={count(s.counts.bad)} tone={s.counts.bad ? 'bad' : undefined} />
              <Stat label="Examples" value={count(s.counts.examples)} />
              {s.tokenized && (
                <>
                  <Stat label="Train / validation" value={`${count(s.counts.train)} / ${count(s.counts.val)}`} />
                  <Stat label="Truncated" value={count(s.counts.truncated)} tone={s.counts.truncated ? 'warn' : undefined} sub={`at ${o.maxLength} tokens`} />
                  <Stat label="Dropped" value={count(s.counts.dropped)} tone={s.counts.dropped ? 'warn' : undefined} />
                  <Stat label="Trained tokens" value={count(s.counts.trainedTokens)} sub={`of ${count(s.counts.tokens)} (${percent(s.counts.trainedTokens, s.counts.tokens)})`} />
                </>
              )}
            </dl>
            <Issues title="Bad lines (skipped)" list={s.issues} tone="bad" label="Bad lines" />
            <Issues title="Examples dropped" list={s.dropped} tone="warn" label="Dropped examples" />
            <Issues title="Truncated examples" list={s.truncated} tone="warn" label="Truncated examples" collapsed />
            <Issues title="Warnings" list={s.warnings} tone="warn" label="Warnings" collapsed />
          </Section>
          {s.tokenized && <Details s={s} maxLength={o.maxLength} />}
        </>
      )}
    </div>
  );
}

/** "Detected: Alpaca {…} (60 of 64 sampled records)"; a common key pair: "Detected: question → answer (columns; …)". */
function detectedHelp(f: FileReport): string {
  const share = `${f.detection.votes[f.format] ?? 0} of ${f.detection.sampled} sampled records`;
  const c = f.format === 'columns' ? f.columns : undefined;
  if (!c) return `Detected: ${FORMAT_LABELS[f.format]} (${share})`;
  return `Detected: ${c.system ? `${c.system} / ` : ''}${c.prompt}${c.input ? ` + ${c.input}` : ''} → ${c.response} (columns; ${share})`;
}

function Issues(props: { title: string; list: IssueList; tone: 'bad' | 'warn'; label: string; collapsed?: boolean }) {
  if (props.list.total === 0) return null;
  const table = (
    <div className="table-wrap short" tabIndex={0} role="region" aria-label={`${props.label} (scrolls)`}>
      <table className={`issues ${props.tone}`} aria-label={props.label}>
        <thead>
          <tr>
            <th scope="col">Line</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {props.list.items.map((i, k) => (
            <tr key={k}>
              <td className="num">{i.line > 0 ? i.line : '—'}</td>
              <td>{i.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.list.total > props.list.items.length && <p className="muted small">…and {count(props.list.total - props.list.items.length)} more.</p>}
    </div>
  );
  return (
    <details className={`issues-block ${props.tone}`} open={!props.collapsed}>
      <summary>
        {props.title} <span className="pill">{count(props.list.total)}</span>
      </summary>
      {table}
    </details>
  );
}

function Details({ s, maxLength }: { s: DataSummary; maxLength: number }) {
  return (
    <div className="panel-grid two">
      <Section title="Token lengths" description={s.histogram ? `median ${s.histogram.median}, mean ${Math.round(s.histogram.mean)}, longest ${s.histogram.max}` : undefined}>
        {s.histogram ? <LengthHistogram h={s.histogram} maxLength={maxLength} /> : <Empty title="No examples" />}
      </Section>
      <Section title="Formatted examples" description="Exactly what the model trains on: highlighted tokens are trained targets, the rest is context.">
        <TokenPreview examples={s.preview} />
      </Section>
    </div>
  );
}
