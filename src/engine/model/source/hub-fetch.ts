// The one fetch every hub request goes through — ours and transformers.js's (installed as
// env.fetch for the duration of a load). It fills three gaps in transformers.js's downloads:
//  - cancellation: from_pretrained takes no AbortSignal, so the signal is attached here;
//  - truncation: transformers.js reads a body until the stream ends and trusts it; a body that
//    stops short of its content-length (a cut connection) is turned into an error here, naming
//    the file, so nothing downstream can cache it;
//  - error reporting: HTTP failures are logged with their URL, so a ModelFileNotFoundError
//    thrown deep inside transformers.js can be reported as "repo X has no file Y (HTTP 404 ...)";
//  - auth: our own requests (HEAD probes, weights) carry the HF_TOKEN that transformers.js adds
//    to its own in Node, or a gated model's JSON would load and its weights would not.
import { cutOffError } from './hub-errors';
import { fileOfUrl } from './hub-location';

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface HttpFailure {
  url: string;
  status: number;
}

export interface HubFetchContext {
  repoId: string;
  signal: AbortSignal;
  /** Appended to, in order, for every non-2xx answer. */
  failures: HttpFailure[];
}

export function hubFetch(base: FetchLike, ctx: HubFetchContext): FetchLike {
  return async (input, init) => {
    ctx.signal.throwIfAborted();
    const url = String(input);
    const res = await base(input, { ...init, headers: withToken(url, init?.headers), signal: ctx.signal });
    if (!res.ok) {
      ctx.failures.push({ url, status: res.status });
      return res;
    }
    const method = (init?.method ?? 'GET').toUpperCase();
    // Range probes (206) and HEADs carry no file body worth checking.
    if (method !== 'GET' || res.status !== 200 || !res.body) return res;
    return checkedResponse(res, url, ctx);
  };
}

/** As transformers.js's getFetchHeaders: Node only (never expose a token to a page), hub hosts only. */
function withToken(url: string, headers: HeadersInit | undefined): Headers {
  const out = new Headers(headers);
  const vars = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const token = vars?.HF_TOKEN ?? vars?.HF_ACCESS_TOKEN;
  if (token && !out.has('authorization') && /^https:\/\/(huggingface\.co|hf\.co)(\/|$)/.test(url)) {
    out.set('authorization', `Bearer ${token}`);
  }
  return out;
}

/** content-length, when it counts the bytes the body will yield (not a compressed size). */
export function expectedLength(res: Response): number | null {
  const encoding = res.headers.get('content-encoding');
  if (encoding && encoding !== 'identity') return null;
  const len = res.headers.get('content-length');
  return len !== null && /^\d+$/.test(len) ? Number(len) : null;
}

function checkedResponse(res: Response, url: string, ctx: HubFetchContext): Response {
  const expected = expectedLength(res);
  const file = fileOfUrl(url);
  const reader = res.body!.getReader();
  let loaded = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        controller.error(ctx.signal.aborted ? ctx.signal.reason : cutOffError(ctx.repoId, file, url, loaded, expected, err));
        return;
      }
      if (chunk.done) {
        if (expected !== null && loaded !== expected) controller.error(cutOffError(ctx.repoId, file, url, loaded, expected));
        else controller.close();
        return;
      }
      loaded += chunk.value.byteLength;
      controller.enqueue(chunk.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}
