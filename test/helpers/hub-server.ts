// A stand-in for the Hugging Face hub on 127.0.0.1: serves folders under the hub's URL layout
// `/{repo}/resolve/{revision}/{file}`, logs every request, and can be told to misbehave the
// ways real networks do (missing repos or files, a connection cut mid-file, a slow link).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface HubRequest {
  method: string;
  repo: string;
  revision: string;
  file: string;
  range: string | null;
}

export interface HubFaults {
  /** Answer 404 for these: a repo id (every file) or `repo/file`. */
  notFound: Set<string>;
  /** Answer with this status instead (401 private/gated, 500 ...): key a repo id or `repo/file`. */
  status: Map<string, number>;
  /** Send content-length, then cut the connection after this fraction of the body: key `repo/file`. */
  drop: Map<string, number>;
  /** Pause this long between 16 KiB chunks of every body. */
  chunkDelayMs: number;
}

export interface HubServer {
  /** e.g. http://127.0.0.1:40123 — pass as `host`. */
  readonly url: string;
  readonly requests: HubRequest[];
  readonly faults: HubFaults;
  clearFaults(): void;
  close(): Promise<void>;
}

const CHUNK = 16 * 1024;
const ROUTE = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/;

/** `repos` maps a repo id (e.g. "test-org/stories260K") to the folder that holds its files. */
export async function startHubServer(repos: Record<string, string>): Promise<HubServer> {
  const requests: HubRequest[] = [];
  const faults: HubFaults = { notFound: new Set(), status: new Map(), drop: new Map(), chunkDelayMs: 0 };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Like the real hub, readable from any page (the browser tests serve the app from elsewhere).
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', 'content-length, content-range, accept-ranges, etag');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, HEAD',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*',
        'access-control-max-age': '600',
      });
      return void res.end();
    }
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const m = ROUTE.exec(path);
    if (!m) return void res.writeHead(404).end('Not a hub path');
    const [, repo, revision, file] = m as unknown as [string, string, string, string];
    const method = req.method ?? 'GET';
    const range = req.headers.range ?? null;
    requests.push({ method, repo, revision, file, range });

    const dir = repos[repo];
    const key = `${repo}/${file}`;
    const forced = faults.status.get(key) ?? faults.status.get(repo);
    if (forced) return void res.writeHead(forced, { 'content-type': 'text/plain' }).end(`status ${forced}`);
    if (!dir || faults.notFound.has(repo) || faults.notFound.has(key) || file.includes('..')) {
      return void res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
    }
    const full = join(dir, file);
    const size = await stat(full).then((s) => (s.isFile() ? s.size : -1), () => -1);
    if (size < 0) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');

    const type = file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    let start = 0;
    let end = size - 1;
    let status = 200;
    const headers: Record<string, string> = { 'content-type': type, 'accept-ranges': 'bytes' };
    const r = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (r) {
      start = Number(r[1]);
      end = r[2] ? Math.min(Number(r[2]), size - 1) : size - 1;
      if (start >= size) return void res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
    const length = end - start + 1;
    headers['content-length'] = String(length);
    res.writeHead(status, headers);
    if (method === 'HEAD') return void res.end();

    const dropAt = faults.drop.get(key);
    const limit = dropAt === undefined ? length : Math.floor(length * dropAt);
    await send(res, full, start, limit, faults.chunkDelayMs);
    if (limit < length) {
      // The promised content-length is never met: the client sees the socket close mid-body.
      res.socket?.destroy();
      return;
    }
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    faults,
    clearFaults() {
      faults.notFound.clear();
      faults.status.clear();
      faults.drop.clear();
      faults.chunkDelayMs = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** Writes `count` bytes from `start`, in chunks, waiting for each to reach the socket. */
async function send(res: ServerResponse, path: string, start: number, count: number, delayMs: number): Promise<void> {
  if (count <= 0) return;
  const stream = createReadStream(path, { start, end: start + count - 1, highWaterMark: CHUNK });
  for await (const chunk of stream) {
    await new Promise<void>((resolve, reject) => res.write(chunk, (err) => (err ? reject(err) : resolve())));
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
  }
}
