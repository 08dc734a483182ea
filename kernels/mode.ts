// The switch between WebLoRA's fused WGSL kernels and the stock TF.js op compositions.
// 'fused' (the default) runs the kernels of this folder — but only on the webgpu backend: on
// cpu and wasm every op falls back to its stock composition, so it is safe to leave on anywhere.
// 'stock' runs exactly the TF.js ops the model always ran: the comparison, and the fallback
// should a kernel misbehave on some adapter (CLI `--kernels stock`, the app's backend menu).
// No TF.js import here: the CLI parses `--kernels` and the app's UI types it without loading TF.js.

export type KernelMode = 'fused' | 'stock';
export const KERNEL_MODES: readonly KernelMode[] = ['fused', 'stock'];

let mode: KernelMode = 'fused';

export function setKernelMode(m: KernelMode): void {
  if (!KERNEL_MODES.includes(m)) throw new Error(`kernel mode must be "fused" or "stock", got ${JSON.stringify(m)}`);
  mode = m;
}

export function getKernelMode(): KernelMode {
  return mode;
}

/** Runs `f` with the mode set to `m`, restoring the previous mode afterwards. */
export function withKernelMode<T>(m: KernelMode, f: () => T): T {
  const prev = mode;
  setKernelMode(m);
  try {
    return f();
  } finally {
    mode = prev;
  }
}
