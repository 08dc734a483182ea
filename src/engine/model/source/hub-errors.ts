// Hub failures in words a user can act on: which repo, which file, what the server said, and
// the URL, so "missing", "private", "cut off" and "server down" read differently.
import { ModelSourceError, quoteList } from './source-errors';
import { requiredFilesText } from './source-types';

export class HubError extends ModelSourceError {
  override name = 'HubError';
  constructor(
    message: string,
    readonly repoId: string,
    readonly file: string | null,
    readonly status: number | null = null,
    readonly url: string | null = null,
    missing: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, missing, { ...options, origin: 'hub' });
  }
}

const prefix = (repoId: string) => `Hugging Face hub: "${repoId}"`;

/** A file answered with an HTTP error; `more` names further required files that are also absent. */
export function httpError(repoId: string, file: string, status: number, url: string, more: string[] = []): HubError {
  const where = `(HTTP ${status} from ${url})`;
  const refused = status === 401 || status === 403;
  let message: string;
  if (status === 404) {
    message = `${prefix(repoId)} has no file "${file}" ${where}`;
    if (more.length) message += `, nor ${quoteList(more)}; a model repo needs ${requiredFilesText()}`;
  } else if (refused) {
    // The hub answers 401 for repos that do not exist as well as for private or gated ones.
    const also = more.length ? ` (and to ${quoteList(more)})` : '';
    message = `${prefix(repoId)}: access to "${file}" was refused ${where}${also}; the repo may not exist, or be private or gated`;
  } else {
    message = `${prefix(repoId)}: the server failed to send "${file}" ${where}`;
  }
  const missing = status === 404 || refused ? [file, ...more] : [];
  return new HubError(message, repoId, file, status, url, missing);
}

/** Not one of the required files is there: most likely a wrong repo id or revision. */
export function nothingThereError(repoId: string, file: string, status: number, url: string, more: string[]): HubError {
  if (status !== 404) return httpError(repoId, file, status, url, more);
  const err = httpError(repoId, file, status, url);
  return new HubError(
    `${err.message}, nor any other file a model needs (${requiredFilesText()}): is the repo id or revision right?`,
    repoId,
    file,
    status,
    url,
    [file, ...more],
  );
}

/** The body ended early or the connection dropped mid-file. */
export function cutOffError(repoId: string, file: string, url: string, loaded: number, expected: number | null, cause?: unknown): HubError {
  const of = expected === null ? '' : ` of ${expected}`;
  const why = cause === undefined ? '' : `: ${cause instanceof Error ? cause.message : String(cause)}`;
  return new HubError(
    `${prefix(repoId)}: the download of "${file}" was cut off after ${loaded}${of} bytes (${url})${why}`,
    repoId,
    file,
    null,
    url,
    [],
    { cause },
  );
}

export function failedError(repoId: string, file: string, cause: unknown): HubError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new HubError(`${prefix(repoId)}: loading "${file}" failed: ${reason}`, repoId, file, null, null, [], { cause });
}

/** The request itself failed: no server, DNS, TLS, offline. */
export function unreachableError(repoId: string, host: string, cause: unknown): HubError {
  const e = cause as Error & { cause?: Error };
  const reason = e?.cause?.message ? `${e.message} (${e.cause.message})` : (e?.message ?? String(cause));
  return new HubError(`${prefix(repoId)}: could not reach ${host}: ${reason}`, repoId, null, null, null, [], { cause });
}

export function shardedError(repoId: string, message: string): HubError {
  return new HubError(message, repoId, 'model.safetensors.index.json');
}
