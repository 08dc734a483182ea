// transformers.js's `env` is one global object, and its hub code reads env.remoteHost, env.fetch
// and friends deep inside async calls, after awaits. Two loads with different settings must
// therefore not overlap: each hub load takes a turn (a FIFO lock), sets what it needs, and puts
// the previous values back when it ends, so code outside a load sees env exactly as it left it.
// The only thing this cannot protect is other code calling transformers.js's hub functions while
// a load runs; in WebLoRA every hub load goes through loadModelFromHub.
import { env } from '@huggingface/transformers';

const KEYS = [
  'remoteHost',
  'remotePathTemplate',
  'allowRemoteModels',
  'allowLocalModels',
  'useBrowserCache',
  'cacheDir',
  'fetch',
] as const;
export type HubEnvSettings = Pick<typeof env, (typeof KEYS)[number]>;

let tail: Promise<void> = Promise.resolve();

/** `settings` sees env as it is once this load's turn comes (other loads' values never leak in). */
export async function withHubEnv<T>(
  settings: (current: HubEnvSettings) => HubEnvSettings,
  signal: AbortSignal | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const previous = tail;
  let release!: () => void;
  tail = new Promise<void>((resolve) => (release = resolve));
  try {
    await untilSettledOrAborted(previous, signal);
    signal?.throwIfAborted();
    const saved = Object.fromEntries(KEYS.map((k) => [k, env[k]])) as HubEnvSettings;
    Object.assign(env, settings(saved));
    try {
      return await fn();
    } finally {
      Object.assign(env, saved);
    }
  } finally {
    // A load aborted while queued must still not let the next one overtake the one running now.
    void previous.then(release);
  }
}

function untilSettledOrAborted(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
