// A backend running out of memory, in words. The wasm backend's Emscripten build aborts with
// "Aborted(). Build with -sASSERTIONS for more info." (or "memory access out of bounds") when its
// heap (at most 4 GB) cannot grow;
// TF.js on the cpu backend throws a RangeError ("Array buffer allocation failed", "Invalid typed
// array length"); WebGPU reports a failed buffer allocation. None says what to change.
import { tf } from '../../engine/tf';

const OUT_OF_MEMORY = [/^Aborted\(/, /memory access out of bounds/, /Array buffer allocation failed/, /Invalid typed array length/, /out of memory/i, /Cannot allocate/i];

export function isOutOfMemory(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return OUT_OF_MEMORY.some((re) => re.test(msg));
}

/** `e` itself, or when it is an out-of-memory failure an error that says what to try. */
export function explainOutOfMemory(e: unknown, { what }: { what: string }): unknown {
  if (!isOutOfMemory(e)) return e;
  let backend = 'this backend';
  try {
    backend = `the ${tf.getBackend()} backend`;
  } catch {
    // No backend started yet.
  }
  const wasm = backend.includes('wasm') ? ' (WebAssembly memory is limited to 4 GB)' : '';
  return new Error(
    `the model with ${what} is too large for the memory of ${backend}${wasm}. ` +
      'Try a smaller --rank, fewer --targets, a smaller --batch or --max-len, or another --backend (webgpu, cpu).',
  );
}
