// A shader reads a weight through one storage binding, and WebGPU caps a binding's size per
// adapter (128 MiB by default; lavapipe offers no more). A larger tensor — Gemma 3's 262,144 × 640
// embedding is 640 MiB — is not refused by TF.js: Dawn logs a validation error, drops the
// dispatch, and training goes on with wrong numbers. So the model is refused at load instead.
import { tf } from '../tf';

const MiB = 2 ** 20;

/** The current backend's largest storage binding in bytes; null where there is no such limit. */
export function storageBindingLimit(): number | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  return device?.limits.maxStorageBufferBindingSize ?? null;
}

/** Throws naming the first tensor larger than `limitBytes` (float32), and what to do. */
export function checkBindingLimit(shapes: Iterable<readonly [string, readonly number[]]>, limitBytes: number | null = storageBindingLimit()): void {
  if (limitBytes === null) return;
  for (const [name, shape] of shapes) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    if (bytes > limitBytes) {
      throw new Error(
        `${name} [${shape.join(', ')}] is ${(bytes / MiB).toFixed(0)} MiB, more than the ${(limitBytes / MiB).toFixed(0)} MiB ` +
          'this GPU lets one shader read, so WebGPU cannot run this model here; choose the WebAssembly (wasm) or cpu backend, or a GPU with a larger maxStorageBufferBindingSize',
      );
    }
  }
}
