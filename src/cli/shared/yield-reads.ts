// WORKAROUND (engine issue reported): on the cpu and wasm backends TF.js resolves data() as an
// already-settled promise, so Trainer.run is one unbroken chain of microtasks and the event loop
// never turns until training ends. A SIGINT handler (or a worker's message) cannot run in
// between, so Ctrl-C could not stop at a step boundary. Until the trainer yields a macrotask per
// step itself, every read of the active backend does so here, for the duration of a run.
import { tf } from '../../engine/tf';

type Read = (dataId: object) => Promise<unknown>;

export function yieldOnEveryRead(): () => void {
  const backend = tf.backend() as unknown as { read: Read };
  const original = backend.read;
  const own = Object.hasOwn(backend, 'read');
  backend.read = async function (this: unknown, dataId: object) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    return original.call(this, dataId);
  };
  return () => {
    if (own) backend.read = original;
    else delete (backend as Partial<typeof backend>).read;
  };
}
