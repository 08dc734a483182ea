// Before downloading anything: which files the repo has and how big they are. A cached file
// answers from the cache (so a warm load makes no request at all); the rest get one HEAD each,
// all at once. Knowing up front lets us name every missing file in one error, refuse sharded
// checkpoints before fetching megabytes, and give progress a fixed total from the first event.
// (transformers.js's ModelRegistry.get_file_metadata does a similar probe, but memoizes its
// answers for the life of the page — keyed without the host, and keeping "missing" forever.)
import { httpError, nothingThereError, shardedError } from './hub-errors';
import { expectedLength, type FetchLike } from './hub-fetch';
import { remoteUrl, type HubLocation } from './hub-location';
import type { HubStore } from './hub-store';
import { GENERATION_CONFIG, REQUIRED_FILES, SHARD_INDEX, shardedMessage, WEIGHTS_FILE } from './source-types';

export interface HubProbe {
  /** Every file the load will read, with its size when known. */
  sizes: Map<string, number | null>;
  hasGenerationConfig: boolean;
}

interface FileCheck {
  file: string;
  url: string;
  /** 200 for a cache hit. */
  status: number;
  size: number | null;
}

export async function probeHub(loc: HubLocation, store: HubStore, fetchFn: FetchLike): Promise<HubProbe> {
  const check = async (file: string): Promise<FileCheck> => {
    const url = remoteUrl(loc, file);
    const cached = await store.cachedSize(file);
    if (cached !== null) return { file, url, status: 200, size: cached };
    const res = await fetchFn(url, { method: 'HEAD' });
    return { file, url, status: res.status, size: res.ok ? expectedLength(res) : null };
  };
  const checks = await Promise.all([...REQUIRED_FILES, GENERATION_CONFIG].map(check));
  const required = checks.filter((c) => c.file !== GENERATION_CONFIG);

  const broken = required.find((c) => !isOk(c.status) && !isAbsent(c.status));
  if (broken) throw httpError(loc.repoId, broken.file, broken.status, broken.url);

  const missing = required.filter((c) => isAbsent(c.status));
  if (missing.some((c) => c.file === WEIGHTS_FILE) && isOk((await check(SHARD_INDEX)).status)) {
    throw shardedError(loc.repoId, shardedMessage(`Hugging Face hub: "${loc.repoId}"`));
  }
  const [first, ...rest] = missing;
  if (first) {
    const others = rest.map((c) => c.file);
    const error = others.length === REQUIRED_FILES.length - 1 ? nothingThereError : httpError;
    throw error(loc.repoId, first.file, first.status, first.url, others);
  }

  const generation = checks.find((c) => c.file === GENERATION_CONFIG)!;
  const present = checks.filter((c) => isOk(c.status));
  return {
    sizes: new Map(present.map((c) => [c.file, c.size])),
    hasGenerationConfig: isOk(generation.status),
  };
}

const isOk = (status: number) => status >= 200 && status < 300;
/** The hub answers 401 for a repo that does not exist, as for a private one. */
const isAbsent = (status: number) => status === 404 || status === 401 || status === 403;
