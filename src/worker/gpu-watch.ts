// The GPU can fail outside any call: the device is lost, or an allocation runs out of memory.
// Both arrive as events; the worker turns them into an EngineFailure that stops the current run.
import { tf } from '../engine/tf';
import type { EngineFailure } from './api';

export function watchGpu(onFailure: (f: EngineFailure) => void): void {
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  if (!device) return;
  void device.lost.then((info) => {
    if (info.reason === 'destroyed') return;
    onFailure({
      kind: 'device-lost',
      message: `The GPU device was lost${info.message ? `: ${info.message}` : ''}.`,
      hint: 'The engine restarts itself. Load the model again; a saved run resumes from its last checkpoint.',
    });
  });
  device.addEventListener('uncapturederror', (ev) => {
    const error = (ev as GPUUncapturedErrorEvent).error;
    if (typeof GPUOutOfMemoryError !== 'undefined' && error instanceof GPUOutOfMemoryError) {
      onFailure({
        kind: 'oom',
        message: `The GPU ran out of memory: ${error.message}`,
        hint: 'Lower the batch size or the max length, target fewer modules or a smaller rank, or use a smaller model.',
      });
    } else {
      console.error('WebGPU error:', error.message);
    }
  });
}
