/**
 * Forwarding one request (node:http's client) or websocket (http2-proxy): streaming both ways (no buffering), a
 * keep-alive agent to the upstreams, a deadline for the upstream's response headers once the request
 * is sent (504; while a body goes up, the deadline is for a stalled connection; long streams such as
 * SSE are not cut once headers came), upstream Location headers rewritten to the
 * entry point's paths, and a redirect from a Mesos upstream (a stale leader) turned into a retry
 * instead of being handed to the client.
 */
import http from 'node:http';
import https from 'node:https';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import proxy from 'http2-proxy';
import { clientResponseHeaders, upstreamRequestHeaders } from './hop.js';
import { CREDENTIAL_FREE_ROUTES, type Mapped } from './routes.js';
import type { Target } from './upstreams.js';

export type AnyReq = http.IncomingMessage | Http2ServerRequest;
export type AnyRes = http.ServerResponse | Http2ServerResponse;

export class LeaderMoved extends Error {
  override name = 'LeaderMoved';
  statusCode = 503;
  constructor(readonly location: string) {
    super(`the leading master moved (${location})`);
  }
}

export class UpstreamTimeout extends Error {
  override name = 'UpstreamTimeout';
  statusCode = 504;
}

export interface ForwardOptions {
  agent: http.Agent;
  timeoutMs: number;
  /** The client's connection for `Forwarded` (default: the request's socket; behind the front, what the front said). */
  client?: { localAddress?: string | undefined; localPort?: number | undefined; remoteAddress?: string | undefined; remotePort?: number | undefined };
  /** Called once the upstream's response headers arrived. */
  onHeaders(status: number): void;
}

/** Upstream Location -> the entry point's path (`/v2/apps/x` from Marathon -> `/marathon/v2/apps/x`). */
export function rewriteLocation(loc: string, target: Target, m: Mapped): string {
  const abs = loc.match(/^(?:https?:)?\/\/([^/]+)(\/.*)?$/);
  if (abs) {
    const hp = abs[1]!.replace(/^\[|\]$/g, '');
    if (hp !== `${target.host}:${target.port}` && hp !== `[${target.host}]:${target.port}`.replace(/^\[|\]$/g, '')) return loc;
    return `${m.prefix}${abs[2] ?? '/'}`;
  }
  return loc.startsWith('/') ? `${m.prefix}${loc}` : loc;
}

/** node:http or node:https, after the agent's protocol (an https agent carries the upstream TLS options). */
function requestFor(agent: http.Agent): typeof http.request {
  return (agent as http.Agent & { protocol?: string }).protocol === 'https:' ? https.request : http.request;
}

/**
 * The upstream deadlines on a client request: while the body goes up, the upstream connection may
 * not stall `timeoutMs` (a large body may take longer in all); once the request is complete, the
 * response headers must come within `timeoutMs`.
 */
function deadline(r: http.ClientRequest, timeoutMs: number, timedOut: { v: boolean }, bodiless = false): void {
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    timedOut.v = true;
    r.destroy(new UpstreamTimeout(`the upstream gave no response within ${timeoutMs} ms`));
  };
  // A request without a body is complete as soon as it is written: only the response deadline applies.
  if (!bodiless) r.setTimeout(timeoutMs, fire);
  const done = () => {
    if (!bodiless) r.setTimeout(0);
    clearTimeout(timer);
  };
  r.once('finish', () => {
    if (!bodiless) r.setTimeout(0);
    timer = setTimeout(fire, timeoutMs);
  });
  r.once('response', done).once('upgrade', done).once('close', done);
}

function upstreamRequest(o: ForwardOptions, timedOut: { v: boolean }, withoutCredentials: boolean) {
  return (_req: unknown, opts: http.RequestOptions) => {
    if (withoutCredentials && opts.headers) {
      const h = opts.headers as http.OutgoingHttpHeaders;
      delete h.authorization;
      delete h.cookie;
    }
    const r = requestFor(o.agent)({ ...opts, agent: o.agent });
    deadline(r, o.timeoutMs, timedOut);
    return Promise.resolve(r);
  };
}

class ForwardError extends Error {
  constructor(message: string, readonly statusCode: number, readonly code?: string) {
    super(message);
  }
}

const BODILESS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Forward an HTTP request (HTTP/1.1 or an HTTP/2 stream) to the upstream over the keep-alive agent,
 * streaming both ways with backpressure; resolves once the response is complete or the client went
 * away, rejects with an error carrying `statusCode` when it could not be forwarded (503: no
 * connection to the upstream; 502: the upstream failed after it; 504: `UpstreamTimeout`).
 *
 * Written on node:http's client rather than through http2-proxy (which `forwardWs` still uses): the
 * same header handling and streaming with less CPU per request (docs/benchmarks/admin.md).
 */
export function forward(req: AnyReq, res: AnyRes, target: Target, m: Mapped, o: ForwardOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timedOut = { v: false };
    const method = req.method ?? 'GET';
    let connected = false;
    let settled = false;
    let up: http.ClientRequest;
    let upRes: http.IncomingMessage | undefined;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      res.off('close', onClientClose);
      if (err) {
        req.off('data', onData);
        up.destroy();
        upRes?.destroy();
        reject(err);
      } else resolve();
    };
    const onClientClose = () => {
      // The client went away before the response was complete: drop the upstream exchange.
      if (!res.writableFinished) {
        up.destroy();
        upRes?.destroy();
      }
      settle();
    };
    const onData = (c: Buffer) => {
      if (!up.write(c)) req.pause();
    };
    try {
      up = requestFor(o.agent)({ hostname: target.host, port: target.port, method, path: m.path + m.query, headers: upstreamRequestHeaders(req.headers, (o.client ?? req.socket) as never, CREDENTIAL_FREE_ROUTES.has(m.route)), agent: o.agent });
    } catch (e) {
      return reject(new ForwardError((e as Error).message, 502));
    }
    deadline(up, o.timeoutMs, timedOut, BODILESS.has(method));
    up.once('socket', (s) => (s.connecting ? s.once('connect', () => (connected = true)) : (connected = true)));
    up.on('error', (e) => {
      if (timedOut.v) return settle(new UpstreamTimeout(`the upstream (${target.host}:${target.port}) gave no response within ${o.timeoutMs} ms`));
      settle(new ForwardError(e.message, connected ? 502 : 503, (e as NodeJS.ErrnoException).code));
    });
    up.once('response', (r: http.IncomingMessage) => {
      upRes = r;
      if (settled) return void r.destroy();
      const status = r.statusCode ?? 502;
      o.onHeaders(status);
      const loc = r.headers.location;
      // A follower's 307 to the same path on the leader (`/master/redirect`'s bare `//leader` is an answer, not a move).
      if (m.upstream === 'mesos' && (status === 307 || status === 302) && typeof loc === 'string' && /^(https?:)?\/\/[^/]+\//.test(loc)) {
        r.resume();
        return settle(new LeaderMoved(loc));
      }
      const aborted = () => !r.complete && settle(new ForwardError('the upstream response was cut short', 502, 'ECONNRESET'));
      r.once('aborted', aborted).on('error', aborted);
      r.once('end', () => {
        if (r.rawTrailers.length && 'addTrailers' in res) (res as http.ServerResponse).addTrailers(r.trailers as Record<string, string>);
      });
      (res as http.ServerResponse).writeHead(status, clientResponseHeaders(r.headers, (l) => rewriteLocation(l, target, m)) as http.OutgoingHttpHeaders);
      r.pipe(res as http.ServerResponse);
    });
    res.once('close', onClientClose);
    if (BODILESS.has(method)) {
      req.resume();
      up.end();
    } else {
      const onEnd = () => up.end();
      req.on('data', onData).once('end', onEnd).on('error', (e: Error) => settle(new ForwardError(e.message, 502)));
      up.on('drain', () => req.resume());
    }
  });
}

/** Forward a websocket upgrade (HTTP/1.1). */
export async function forwardWs(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: Target, m: Mapped, o: ForwardOptions): Promise<void> {
  const timedOut = { v: false };
  await proxy.ws(req, socket as never, head, { hostname: target.host, port: target.port, path: m.path + m.query, onReq: upstreamRequest(o, timedOut, CREDENTIAL_FREE_ROUTES.has(m.route)) as never });
}
