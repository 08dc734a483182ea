// A model from the Hugging Face hub (or any server with its URL layout), through transformers.js's
// hub code and its cache: on disk in Node (env.cacheDir or `cacheDir`), the Cache API in browsers.
//
//  1. probe   — every file's size from the cache, else a HEAD; all missing files named at once
//  2. load    — in parallel: config.json and the tokenizer through transformers.js (it downloads
//               and caches them), generation_config.json and model.safetensors through our fetch
//               into the same cache (transformers.js has no public way to fetch other files)
//  3. finish  — the first failure stops the other downloads and is the error thrown
//
// A second load of the same repo and revision is served from the cache without any request.
import { env } from '@huggingface/transformers';
import { wrapTokenizer } from '../tokenizer';
import { withHubEnv } from './hub-env';
import { failedError, httpError, HubError, unreachableError } from './hub-errors';
import { expectedLength, hubFetch, type FetchLike, type HttpFailure } from './hub-fetch';
import { DEFAULT_HOST, fileOfUrl, hubLocation, HUB_PATH_TEMPLATE, remoteUrl, type HubLocation } from './hub-location';
import { probeHub } from './hub-probe';
import { HubProgress } from './hub-progress';
import { openHubStore, type HubStore } from './hub-store';
import { loadConfigJson, loadTokenizer, type TransformersHubOptions } from './hub-transformers';
import { ModelSourceError, parseJsonFile } from './source-errors';
import { GENERATION_CONFIG, WEIGHTS_FILE, type DownloadProgress, type ModelFiles, type WeightsSource } from './source-types';

export interface HubLoadOptions {
  /** Branch, tag or commit; default "main". */
  revision?: string;
  /** default https://huggingface.co */
  host?: string;
  /** Node: the cache folder (default: transformers.js's env.cacheDir). Browsers use the Cache API. */
  cacheDir?: string;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

export async function loadModelFromHub(repoId: string, opts: HubLoadOptions = {}): Promise<ModelFiles> {
  const loc = hubLocation(repoId, opts.revision ?? 'main', opts.host ?? DEFAULT_HOST);
  // Aborted by the caller's signal, or by us once one file has failed (to stop the others).
  const stop = new AbortController();
  const forward = () => stop.abort(opts.signal?.reason);
  if (opts.signal?.aborted) forward();
  opts.signal?.addEventListener('abort', forward, { once: true });
  const failures: HttpFailure[] = [];
  try {
    return await withHubEnv(
      (current) => ({
        remoteHost: loc.host,
        remotePathTemplate: HUB_PATH_TEMPLATE,
        allowRemoteModels: true,
        // A repo id must never resolve to a folder under env.localModelPath instead of the hub.
        allowLocalModels: false,
        // Pages served over plain http (not localhost) have no Cache API; transformers.js would
        // throw rather than go without a cache.
        useBrowserCache: current.useBrowserCache && typeof caches !== 'undefined',
        cacheDir: opts.cacheDir ?? current.cacheDir,
        fetch: hubFetch(current.fetch as FetchLike, { repoId, signal: stop.signal, failures }),
      }),
      opts.signal,
      () => load(loc, stop, failures, opts),
    );
  } finally {
    opts.signal?.removeEventListener('abort', forward);
  }
}

/** Runs with env set for this load (see hub-env.ts). */
async function load(loc: HubLocation, stop: AbortController, failures: HttpFailure[], opts: HubLoadOptions): Promise<ModelFiles> {
  const fetchFn = env.fetch as FetchLike;
  const cacheDir = env.cacheDir;
  const store = await openHubStore(loc, cacheDir);
  const probe = await probeHub(loc, store, fetchFn).catch((err) => {
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw err instanceof HubError ? err : unreachableError(loc.repoId, loc.host, err);
  });
  const progress = new HubProgress(probe.sizes, opts.onProgress);
  const tjs: TransformersHubOptions = {
    revision: loc.revision,
    progress_callback: progress.fromTransformers,
    ...(cacheDir ? { cache_dir: cacheDir } : {}),
  };
  const download = (file: string) => downloadToStore(loc, file, store, fetchFn, progress);

  let firstFailure: unknown;
  const attempt = <T>(files: string[], run: () => Promise<T>): Promise<T> =>
    run().catch((err) => {
      const error = explain(err, files, loc, failures, opts.signal);
      if (firstFailure === undefined) {
        firstFailure = error;
        stop.abort(error);
      }
      throw error;
    });

  const tasks = [
    attempt(['config.json'], () => loadConfigJson(loc.repoId, tjs)),
    attempt(['tokenizer.json', 'tokenizer_config.json'], () => loadTokenizer(loc.repoId, tjs)),
    probe.hasGenerationConfig ? attempt([GENERATION_CONFIG], () => readJson(loc, download, GENERATION_CONFIG)) : null,
    attempt([WEIGHTS_FILE], () => download(WEIGHTS_FILE)),
  ] as const;
  // Wait for every task to settle, so that transformers.js does not outlive this turn of the env
  // lock. (Inside a failed AutoTokenizer call the sibling of the failed file may run on for a
  // moment; it has already read env, and its fetch carries `stop`, which is aborted by then.)
  const settled = await Promise.allSettled(tasks);
  const [config, tokenizer, generationConfig, weights] = settled;
  if (firstFailure !== undefined) {
    if (weights.status === 'fulfilled') await weights.value.close();
    throw firstFailure;
  }
  const value = <T>(r: PromiseSettledResult<T>) => (r as PromiseFulfilledResult<T>).value;
  return {
    name: loc.repoId,
    config: value(config),
    generationConfig: value(generationConfig),
    tokenizer: wrapTokenizer(value(tokenizer)),
    weights: value(weights),
  };
}

/** A file from the cache, else downloaded into it; progress either way. */
async function downloadToStore(
  loc: HubLocation,
  file: string,
  store: HubStore,
  fetchFn: FetchLike,
  progress: HubProgress,
): Promise<WeightsSource> {
  const cached = await store.open(file);
  if (cached) {
    progress.finish(file, cached.size);
    return cached;
  }
  const url = remoteUrl(loc, file);
  const res = await fetchFn(url);
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw httpError(loc.repoId, file, res.status, url);
  }
  const size = expectedLength(res) ?? undefined;
  const source = await store.save(file, res, (loaded) => progress.update(file, loaded, size));
  progress.finish(file, source.size);
  return source;
}

async function readJson(
  loc: HubLocation,
  download: (file: string) => Promise<WeightsSource>,
  file: string,
): Promise<Record<string, unknown>> {
  const source = await download(file);
  try {
    const text = new TextDecoder().decode(await source.read(0, source.size));
    return parseJsonFile(`Hugging Face hub: "${loc.repoId}"`, file, text, 'hub');
  } finally {
    await source.close();
  }
}

/**
 * Any failure as the error to show: the caller's abort as itself; our own errors as they
 * are (transformers.js passes stream errors through unchanged); an HTTP failure that
 * transformers.js turned into its own message, by the URL our fetch logged; anything else
 * wrapped with the repo and file it happened to.
 */
function explain(err: unknown, files: string[], loc: HubLocation, failures: HttpFailure[], signal?: AbortSignal): unknown {
  if (signal?.aborted) return signal.reason;
  if (err instanceof ModelSourceError) return err;
  const http = failures.findLast((f) => files.includes(fileOfUrl(f.url)));
  if (http) return httpError(loc.repoId, fileOfUrl(http.url), http.status, http.url);
  return failedError(loc.repoId, files.join(' / '), err);
}
