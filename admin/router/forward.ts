/**
 * Forwarding one request or websocket with http2-proxy: streaming both ways (no buffering), a
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
import type { Mapped } from './routes.js';
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

function upstreamRequest(o: ForwardOptions, timedOut: { v: boolean }) {
  return (_req: unknown, opts: http.RequestOptions) => {
    const r = o.agent instanceof https.Agent ? https.request({ ...opts, protocol: 'https:', agent: o.agent }) : http.request({ ...opts, agent: o.agent });
    let timer: NodeJS.Timeout | undefined;
    const fire = () => {
      timedOut.v = true;
      r.destroy(new UpstreamTimeout(`the upstream gave no response within ${o.timeoutMs} ms`));
    };
    // While the body goes up: the upstream connection may not stall that long (a large body may take
    // longer in all). Once the request is complete: the response headers must come within the deadline.
    r.setTimeout(o.timeoutMs, fire);
    const done = () => {
      r.setTimeout(0);
      clearTimeout(timer);
    };
    r.once('finish', () => {
      r.setTimeout(0);
      timer = setTimeout(fire, o.timeoutMs);
    });
    r.once('response', done).once('upgrade', done).once('close', done);
    return Promise.resolve(r);
  };
}

/** Forward an HTTP request; rejects with an error carrying `statusCode` when it could not be forwarded. */
export async function forward(req: AnyReq, res: AnyRes, target: Target, m: Mapped, o: ForwardOptions): Promise<void> {
  const timedOut = { v: false };
  try {
    await proxy.web(req as http.IncomingMessage, res as http.ServerResponse, {
      hostname: target.host,
      port: target.port,
      path: m.path + m.query,
      onReq: upstreamRequest(o, timedOut) as never,
      onRes: (async (_q: unknown, r: http.ServerResponse, up: http.IncomingMessage) => {
        const status = up.statusCode ?? 502;
        o.onHeaders(status);
        const loc = up.headers.location;
        // A follower's 307 to the same path on the leader (`/master/redirect`'s bare `//leader` is an answer, not a move).
        if (m.upstream === 'mesos' && (status === 307 || status === 302) && typeof loc === 'string' && /^(https?:)?\/\/[^/]+\//.test(loc)) {
          up.resume();
          throw new LeaderMoved(loc);
        }
        r.statusCode = status;
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined) r.setHeader(k, k === 'location' && typeof v === 'string' ? rewriteLocation(v, target, m) : v);
        up.pipe(r);
      }) as never,
    });
  } catch (e) {
    if (timedOut.v) throw new UpstreamTimeout(`the upstream (${target.host}:${target.port}) gave no response within ${o.timeoutMs} ms`);
    throw e;
  }
}

/** Forward a websocket upgrade (HTTP/1.1). */
export async function forwardWs(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: Target, m: Mapped, o: ForwardOptions): Promise<void> {
  const timedOut = { v: false };
  await proxy.ws(req, socket as never, head, { hostname: target.host, port: target.port, path: m.path + m.query, onReq: upstreamRequest(o, timedOut) as never });
}
