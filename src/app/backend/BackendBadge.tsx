// Which TF.js backend runs the engine (and on which adapter), why a fallback happened, and a
// way to force another backend (which restarts the worker).
import { useEffect, useRef, useState } from 'react';
import { useStore } from '../store';
import { restartEngine, switchBackend, switchKernels, switchPrecision } from '../boot';
import type { BackendChoice, KernelChoice, PrecisionChoice } from '../../worker/api';

const LABELS: Record<string, string> = { webgpu: 'WebGPU', wasm: 'WebAssembly', cpu: 'CPU' };
const FEATURE_LABELS: Record<string, string> = {
  'shader-f16': 'f16',
  subgroups: 'subgroups',
  'timestamp-query': 'timestamps',
  'chromium-experimental-subgroup-matrix': 'subgroup matrices',
};

export function BackendBadge() {
  const engine = useStore((s) => s.engine);
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', esc);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', esc);
    };
  }, [open]);

  const b = engine.backend;
  const fallback = !!b && b.requested === 'auto' && b.failures.length > 0;
  const adapter = b?.adapter ? [b.adapter.vendor, b.adapter.architecture].filter(Boolean).join(' ') : '';
  let text: string;
  let tone: string;
  if (engine.status === 'starting' || engine.status === 'restarting') {
    text = engine.status === 'starting' ? 'Starting engine…' : 'Restarting engine…';
    tone = 'pending';
  } else if (engine.status === 'failed' || !b) {
    text = 'Engine failed';
    tone = 'bad';
  } else {
    text = `${LABELS[b.name] ?? b.name}${adapter ? ` · ${adapter}` : ''}${b.name === 'webgpu' && b.kernels === 'stock' ? ' · stock ops' : ''}${b.name === 'webgpu' ? ` · ${b.precision}` : ''}`;
    tone = b.name === 'webgpu' && !b.warning ? 'good' : 'warn';
  }
  const busy = engine.unresponsiveSince !== null;

  return (
    <div className="backend" ref={ref}>
      <button
        type="button"
        className={`badge ${tone}`}
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-label={`Backend: ${text}${fallback ? ' (fallback)' : ''}`}
        data-backend={b?.name ?? ''}
        data-architecture={b?.adapter?.architecture ?? ''}
        data-kernels={b?.kernels ?? ''}
        data-features={b?.features?.join(' ') ?? ''}
        data-precision={b?.precision ?? ''}
        data-frozen-matmul={b?.frozenMatmul ?? ''}
        data-tone={tone}
        title={b ? `${b.reason}${b.warning ? `. ${b.warning}` : ''}` : undefined}
        onClick={() => setOpen((o) => !o)}
      >
        <span className="dot" aria-hidden="true" />
        <span className="badge-text">{text}</span>
        {b?.adapter?.software && b.name === 'webgpu' && <span className="badge-flag">software GPU</span>}
        {fallback && <span className="badge-flag">fallback</span>}
        {busy && <span className="badge-flag">busy</span>}
      </button>
      {open && (
        <div className="popover" role="dialog" aria-label="Backend settings">
          <h3>Compute backend</h3>
          {b ? (
            <>
              <p className="muted">{b.reason}.</p>
              {b.warning && <p className="warning-text">Slow: {b.warning}.</p>}
            </>
          ) : engine.error ? (
            <p className="error-text">
              {engine.error.message} {engine.error.hint}
            </p>
          ) : (
            <p className="muted">Starting…</p>
          )}
          {b?.failures.length ? (
            <ul className="failures">
              {b.failures.map((f) => (
                <li key={f.name}>
                  <strong>{LABELS[f.name]}</strong>: {f.error}
                </li>
              ))}
            </ul>
          ) : null}
          {b?.adapter?.description && <p className="muted small">Adapter: {b.adapter.description}</p>}
          {b?.name === 'webgpu' && b.features && (
            <p className="muted small" data-features={b.features.join(' ')}>
              GPU features: {b.features.length ? b.features.map((f) => FEATURE_LABELS[f] ?? f).join(', ') : 'none of shader-f16, subgroups, timestamps'}
              {b.subgroupMatrixConfigs?.length ? ` (matrix units: ${b.subgroupMatrixConfigs.map((c) => `${c.componentType}→${c.resultComponentType} ${c.M}×${c.N}×${c.K}`).join(', ')})` : ''}
            </p>
          )}
          <label className="field-label" htmlFor="backend-choice">
            Backend
          </label>
          <select
            id="backend-choice"
            value={engine.prefer}
            onChange={(e) => {
              setOpen(false);
              void switchBackend(e.currentTarget.value as BackendChoice);
            }}
          >
            <option value="auto">Automatic (WebGPU, else WebAssembly, else CPU)</option>
            <option value="webgpu">WebGPU only</option>
            <option value="wasm">WebAssembly</option>
            <option value="cpu">CPU (slowest)</option>
          </select>
          <label className="field-label" htmlFor="kernel-choice">
            WebGPU kernels
          </label>
          <select
            id="kernel-choice"
            value={engine.kernels}
            onChange={(e) => {
              setOpen(false);
              void switchKernels(e.currentTarget.value as KernelChoice);
            }}
          >
            <option value="fused">Fused WGSL kernels (fastest)</option>
            <option value="stock">Stock TF.js ops (for comparison, or if a kernel misbehaves)</option>
          </select>
          <label className="field-label" htmlFor="precision-choice">
            Frozen weights
          </label>
          <select
            id="precision-choice"
            value={engine.precision}
            onChange={(e) => {
              setOpen(false);
              void switchPrecision(e.currentTarget.value as PrecisionChoice);
            }}
          >
            <option value="fp32">float32 (the reference)</option>
            <option value="f16-base">float16 base, float32 LoRA and accumulation (half the weight memory)</option>
            <option value="auto">float16 where the GPU supports it, else float32</option>
          </select>
          {b && (
            <p className="muted small" data-precision-note="">
              Now: {b.precision === 'f16-base' ? `float16 base, matmuls on the ${b.frozenMatmul === 'subgroup-matrix' ? "GPU's matrix units (subgroup matrices)" : 'SIMT f16 kernel'}` : 'float32'}.
              {b.frozenMatmulNote ? ` Not on the matrix units: ${b.frozenMatmulNote}.` : ''}
              {b.name === 'webgpu' && !b.features?.includes('shader-f16')
                ? ' This GPU offers no shader-f16, so float16 is unavailable (Chrome on NVIDIA: start it with --enable-dawn-features=vulkan_enable_f16_on_nvidia; matrix units also need --enable-unsafe-webgpu).'
                : ''}
            </p>
          )}
          {b && b.name !== 'webgpu' && <p className="muted small">Kernels apply to WebGPU only; {LABELS[b.name] ?? b.name} always runs TF.js ops.</p>}
          <p className="muted small">Switching restarts the engine and loads the model again.</p>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setOpen(false);
              void restartEngine();
            }}
          >
            Restart engine
          </button>
        </div>
      )}
    </div>
  );
}
