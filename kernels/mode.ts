// The switch between WebLoRA's fused WGSL kernels and the stock TF.js op compositions.
// 'stock' (the default) runs exactly the TF.js ops the model always ran; 'fused' runs the
// kernels of this folder — but only on the webgpu backend: on cpu and wasm every op falls back
// to its stock composition, so the switch is safe to leave on anywhere.
import { tf } from '../src/engine/tf';

export type KernelMode = 'fused' | 'stock';

let mode: KernelMode = 'stock';

export function setKernelMode(m: KernelMode): void {
  if (m !== 'fused' && m !== 'stock') throw new Error(`kernel mode must be "fused" or "stock", got ${JSON.stringify(m)}`);
  mode = m;
}

export function getKernelMode(): KernelMode {
  return mode;
}

/** Whether ops run the fused kernels right now: mode 'fused' and the webgpu backend active. */
export function fusedActive(): boolean {
  return mode === 'fused' && tf.getBackend() === 'webgpu';
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
