// Export / import: the PEFT adapter (zip, or its two files), the training config, merged weights;
// and importing an adapter to compare with or to keep training.
import { patch, useStore } from '../store';
import { exportAdapterFile, exportAdapterZip, exportGpuJob, exportMerged, exportTrainingConfig, importAdapterFiles } from './actions';
import { Callout, ErrorCard, Section, Stat } from '../components/ui';
import { FileDrop } from '../components/FileDrop';
import { bytes, count } from '../util/format';

export function ExportPanel() {
  const adapter = useStore((s) => s.adapter);
  const ex = useStore((s) => s.exports);
  const info = useStore((s) => s.model.info);
  const trainBusy = useStore((s) => ['starting', 'running', 'pausing', 'stopping'].includes(s.train.status));
  const hasTraining = useStore((s) => s.train.points.length > 0);
  const busy = !!ex.busy || trainBusy;
  const noAdapter = !adapter;
  const dataReady = useStore((s) => !!s.data.input && !!s.data.summary?.tokenized);

  return (
    <div className="panel-stack">
      <div className="panel-grid two">
        <Section title="Export the adapter" description="A Hugging Face PEFT LoRA adapter: load it with PeftModel.from_pretrained(base, folder).">
          {adapter ? (
            <dl className="stats compact" aria-label="Adapter">
              <Stat label="Origin" value={adapter.origin} />
              <Stat label="Rank / alpha" value={`${adapter.config.r} / ${adapter.config.alpha}`} />
              <Stat label="Targets" value={adapter.config.targetModules.join(', ')} />
              <Stat label="Parameters" value={count(adapter.parameters)} sub={bytes(adapter.parameters * 4)} />
            </dl>
          ) : (
            <Callout tone="info">No adapter yet: train one, import one, or load one from a saved run.</Callout>
          )}
          {trainBusy && <Callout tone="warning">Training is running; pause it to export the adapter as it is now.</Callout>}
          <div className="button-row wrap">
            <button type="button" className="primary" disabled={noAdapter || busy} onClick={() => void exportAdapterZip()}>
              Export adapter
            </button>
            <button type="button" className="secondary" disabled={noAdapter || busy} onClick={() => void exportAdapterFile('config')}>
              adapter_config.json
            </button>
            <button type="button" className="secondary" disabled={noAdapter || busy} onClick={() => void exportAdapterFile('weights')}>
              adapter_model.safetensors
            </button>
          </div>
          <p className="muted small">“Export adapter” downloads a zip with both files (and the training config); the two buttons beside it download each file alone.</p>
          {ex.sha256 && (
            <dl className="checksums" aria-label="Adapter checksums">
              <dt>SHA-256 adapter_config.json</dt>
              <dd>
                <code data-file="adapter_config.json">{ex.sha256.config}</code>
              </dd>
              <dt>SHA-256 adapter_model.safetensors</dt>
              <dd>
                <code data-file="adapter_model.safetensors">{ex.sha256.weights}</code>
              </dd>
            </dl>
          )}
          {ex.busy && <p className="muted small" role="status">{ex.busy}…</p>}
          {ex.error && <ErrorCard error={ex.error} onDismiss={() => patch('exports', { error: null })} />}
        </Section>

        <Section title="More downloads">
          <div className="download-list">
            <div>
              <button type="button" className="secondary" disabled={!hasTraining && noAdapter} onClick={exportTrainingConfig}>
                Training config (JSON)
              </button>
              <p className="muted small">Model, dataset options, LoRA and training settings, and the loss history.</p>
            </div>
            <div>
              <button type="button" className="secondary" disabled={!info || !dataReady || busy} onClick={() => void exportGpuJob()}>
                Run on a GPU server
              </button>
              <p className="muted small">
                This run as a Hugging Face job (zip): train.py with transformers + peft, launched by accelerate on one GPU, several (DDP) or sharded (FSDP); the dataset as read here; a README with the commands. It writes an adapter and a train_log.json to import back here. Nothing is uploaded.
              </p>
            </div>
            <div>
              <button type="button" className="secondary" disabled={noAdapter || busy} onClick={() => void exportMerged()}>
                Merged model (zip)
              </button>
              <p className="muted small">
                The base weights with the adapter folded in, as a plain safetensors model folder{info ? ` (≈ ${bytes(info.weightsBytes)} and up, float32)` : ''}.
              </p>
            </div>
          </div>
        </Section>
      </div>

      <Section title="Import an adapter" description="A PEFT adapter for the loaded model: both files, or a zip that holds them; with the train_log.json of its run (a GPU job's, or weblora train's), the run is listed in Runs with its loss curve. Then compare it, export it, or keep training it.">
        <FileDrop
          label="Adapter files"
          multiple
          accept=".json,.safetensors,.zip"
          disabled={!info || busy}
          onFiles={(files) => void importAdapterFiles(files)}
          title="Drop adapter_config.json + adapter_model.safetensors (+ train_log.json), or a zip"
          hint={info ? `For ${info.name}.` : 'Load the base model first.'}
        />
      </Section>
    </div>
  );
}
