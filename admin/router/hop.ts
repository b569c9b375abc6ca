/**
 * Header handling for the entry point's forwarding (RFC 9110 §7.6.1): hop-by-hop headers, the
 * ones a `Connection` header names, HTTP/2 pseudo-headers and `Host` are not passed on; the
 * upstream gets a `Forwarded` element (RFC 7239) naming this hop. Written for the hot path: one
 * pass over the headers, no regular expressions, the per-connection part of `Forwarded` computed
 * once per client connection. For the master's own APIs (`withoutCredentials`) the client's credential
 * headers (`Authorization`, `Cookie`) stay at the edge: those APIs trust the entry point's certificate, not
 * the client's token (the nginx front drops them on its hot routes too: front-conf.ts).
 */
import type http from 'node:http';
import net from 'node:net';

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings']);

type InHeaders = http.IncomingHttpHeaders;

/** The header names a `Connection` value lists (besides keep-alive/close), lower case. */
function connectionListed(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined || v === 'keep-alive' || v === 'close' || v === 'Keep-Alive' || v === 'Close') return undefined;
  return (Array.isArray(v) ? v.join(',') : v).toLowerCase().split(',').map((s) => s.trim());
}

function quoteNode(address: string | undefined, port?: number): string {
  const a = address ?? '';
  // An IPv6 address has two colons at least; `host:port` has one (and skips the costly check).
  const c = a.indexOf(':');
  const v6 = c >= 0 && a.indexOf(':', c + 1) > 0 && net.isIPv6(a);
  const s = `${v6 ? `[${a}]` : a}${port ? `:${port}` : ''}`;
  return v6 || port ? `"${s}"` : s;
}

interface SocketLike {
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
}

const perConnection = new WeakMap<object, string>();

/** `by=...;for=...;proto=https` for a client connection (cached per connection object). */
function hopOf(socket: SocketLike | undefined): string {
  if (!socket) return 'proto=https';
  let s = perConnection.get(socket);
  if (s === undefined) {
    s = `by=${quoteNode(socket.localAddress, socket.localPort)};for=${quoteNode(socket.remoteAddress, socket.remotePort)};proto=https`;
    perConnection.set(socket, s);
  }
  return s;
}

/** The request headers the upstream gets; without the client's credential when `withoutCredentials`. */
export function upstreamRequestHeaders(h: InHeaders, socket: SocketLike | undefined, withoutCredentials = false): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const k in h) {
    if (k.charCodeAt(0) === 58 /* ':' pseudo-header */ || k === 'host' || HOP.has(k)) continue;
    out[k] = h[k];
  }
  if (withoutCredentials) {
    delete out.authorization;
    delete out.cookie;
  }
  const listed = connectionListed(h.connection);
  if (listed) for (const k of listed) delete out[k];
  const host = h[':authority'] ?? h.host ?? '';
  const el = `${hopOf(socket)};host=${quoteNode(Array.isArray(host) ? host[0] : host)}`;
  const prev = out.forwarded;
  out.forwarded = prev ? `${String(prev)}, ${el}` : el;
  return out;
}

/** The response headers the client gets, `location` passed through `rewrite`. */
export function clientResponseHeaders(h: InHeaders, rewrite: (location: string) => string): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const k in h) {
    if (HOP.has(k)) continue;
    const v = h[k];
    if (v === undefined) continue;
    out[k] = k === 'location' && typeof v === 'string' ? rewrite(v) : v;
  }
  const listed = connectionListed(h.connection);
  if (listed) for (const k of listed) delete out[k];
  return out;
}
