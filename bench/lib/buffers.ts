// Peak of the distinct tensor buffers a span of work allocates. TF.js's own count (tf.memory()
// numBytes, tf.profile peakBytes) adds the size of every live tensor *handle*, so a reshape, or
// the clone the engine saves of each input a gradient needs, counts again although it shares the
// first tensor's buffer on cpu and WebGPU (the wasm backend's Identity copies for real). This
// counts each data buffer once: the engine's trackTensor (first handle of a new buffer) and
// removeDataId (its last handle gone) are wrapped while tracking, and the high-water mark of
// (bytes of buffers allocated − bytes of buffers freed) since the start is kept.
import { tf } from '../../src/engine/tf';

interface EngineInternals {
  state: { tensorInfo: WeakMap<object, { bytes: number }> };
  trackTensor(a: tf.Tensor, backend: unknown): void;
  removeDataId(dataId: object, backend: unknown): void;
}

export interface BufferTracker {
  /** Restores the engine and returns the peak and final net bytes since the start. */
  stop(): { peakBytes: number; endBytes: number };
}

export function trackBuffers(): BufferTracker {
  const engine = tf.engine() as unknown as EngineInternals;
  const info = engine.state.tensorInfo;
  const track = engine.trackTensor;
  const remove = engine.removeDataId;
  let live = 0;
  let peak = 0;
  engine.trackTensor = function (this: EngineInternals, a, backend) {
    const known = info.has(a.dataId);
    track.call(this, a, backend);
    if (!known) {
      live += info.get(a.dataId)?.bytes ?? 0;
      if (live > peak) peak = live;
    }
  };
  engine.removeDataId = function (this: EngineInternals, dataId, backend) {
    const before = info.get(dataId);
    remove.call(this, dataId, backend);
    if (before && !info.has(dataId)) live -= before.bytes;
  };
  return {
    stop() {
      // The wrappers are own properties: deleting them uncovers the prototype's methods again.
      delete (engine as Partial<EngineInternals>).trackTensor;
      delete (engine as Partial<EngineInternals>).removeDataId;
      return { peakBytes: peak, endBytes: live };
    },
  };
}
