/**
 * A small JSON HTTP router on node:http. Handlers get typed params and a parsed body; errors
 * thrown as ValidationError/NotFoundError/ConflictError/UnavailableError map to 422/404/409/503, anything else to 500
 * without crashing the daemon. Bodies are capped (default 1 MiB).
 */
import http from 'node:http';
import https from 'node:https';
import { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { TlsMaterial } from './tls-files.js';
import { peerIdentity, type IdentityKind } from './tls-identity.js';
import { ConflictError, NotFoundError, UnavailableError, ValidationError } from './errors.js';
import type { Registry } from './metrics.js';
import { httpDate } from './utc-time.js';
import { compileSchema, type JsonSchema, type SchemaChecker } from './schema.js';

export interface Request {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON body (undefined when empty). Bad JSON answers 400 before the handler runs. */
  body: unknown;
  raw: http.IncomingMessage;
}

export type Reply =
  | { status?: number; json: unknown; headers?: Record<string, string> }
  | { status?: number; text: string; contentType?: string; headers?: Record<string, string> }
  /** The handler took over the raw response (SSE, streaming, proxying). */
  | { hijacked: true };

export type Handler = (req: Request, res: http.ServerResponse) => Promise<Reply> | Reply;

/** What a route documents (and, for `body`, enforces before the handler runs: 422, nothing done). */
export interface RouteSpec {
  summary?: string;
  body?: JsonSchema;
  /** Query parameters, documented only. */
  query?: Record<string, string>;
  /** Object properties set to null count as absent (Marathon clients send them); removed before validation. */
  nullIsAbsent?: boolean;
  /** How 422 details name fields: JSON pointers (`/a/0/b`, Marathon; default) or dotted (`a[0].b`, ConfigError style). */
  paths?: 'pointer' | 'dotted';
}

interface Route {
  method: string;
  pattern: string;
  parts: string[];
  handler: Handler;
  spec?: RouteSpec;
  body?: SchemaChecker<unknown>;
  nullIsAbsent?: boolean;
}

export class Router {
  private routes: Route[] = [];

  on(method: string, pattern: string, handler: Handler, spec?: RouteSpec): this {
    const body = spec?.body ? compileSchema(spec.body, spec.paths) : undefined;
    this.routes.push({ method: method.toUpperCase(), pattern, parts: split(pattern), handler, ...(spec ? { spec } : {}), ...(body ? { body } : {}), ...(spec?.nullIsAbsent ? { nullIsAbsent: true } : {}) });
    return this;
  }
  get(p: string, h: Handler, spec?: RouteSpec): this {
    return this.on('GET', p, h, spec);
  }
  post(p: string, h: Handler, spec?: RouteSpec): this {
    return this.on('POST', p, h, spec);
  }
  put(p: string, h: Handler, spec?: RouteSpec): this {
    return this.on('PUT', p, h, spec);
  }
  patch(p: string, h: Handler, spec?: RouteSpec): this {
    return this.on('PATCH', p, h, spec);
  }
  delete(p: string, h: Handler, spec?: RouteSpec): this {
    return this.on('DELETE', p, h, spec);
  }

  /** Every route mounted so far (method and pattern), for tests that walk them. */
  list(): { method: string; pattern: string }[] {
    return this.routes.map((r) => ({ method: r.method, pattern: r.pattern }));
  }

  /** An OpenAPI 3 document of the routes mounted so far (built when asked, so late mounts show). */
  openapi(title: string, version = '1'): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const r of this.routes) {
      const path = '/' + r.parts.map((p) => (p.startsWith(':') || p.startsWith('*') ? `{${p.slice(1)}}` : p)).join('/');
      const params = r.parts.filter((p) => p.startsWith(':') || p.startsWith('*')).map((p) => ({ name: p.slice(1), in: 'path', required: true, schema: { type: 'string' } }));
      const query = Object.entries(r.spec?.query ?? {}).map(([name, description]) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } }));
      (paths[path] ??= {})[r.method.toLowerCase()] = {
        ...(r.spec?.summary ? { summary: r.spec.summary } : {}),
        ...(params.length || query.length ? { parameters: [...params, ...query] } : {}),
        ...(r.spec?.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.spec.body } } } } : {}),
        responses: {
          default: { description: 'JSON' },
          ...(r.spec?.body ? { '422': { description: 'invalid body: {message, details: [{path, errors}]}', content: { 'application/json': { schema: VALIDATION_ERROR_SCHEMA } } } } : {}),
        },
      };
    }
    return { openapi: '3.1.0', info: { title, version }, paths };
  }

  /** Serve `GET /openapi.json` from this router's routes. */
  serveOpenapi(title: string, version?: string): this {
    return this.get('/openapi.json', () => ({ json: this.openapi(title, version) }), { summary: 'this document' });
  }

  /** Serve GET /metrics from a registry. */
  metrics(registry: Registry): this {
    return this.get('/metrics', async () => ({ text: await registry.metrics(), contentType: registry.contentType }));
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string>; body?: SchemaChecker<unknown>; nullIsAbsent?: boolean } | 'method' | undefined {
    const segs = split(path);
    let methodMismatch = false;
    for (const r of this.routes) {
      const params = matchParts(r.parts, segs);
      if (!params) continue;
      if (r.method !== method && !(r.method === 'GET' && method === 'HEAD')) {
        methodMismatch = true;
        continue;
      }
      return { handler: r.handler, params, ...(r.body ? { body: r.body } : {}), ...(r.nullIsAbsent ? { nullIsAbsent: true } : {}) };
    }
    return methodMismatch ? 'method' : undefined;
  }
}

/** The 422 body every validating route answers (Marathon's shape). */
export const VALIDATION_ERROR_SCHEMA = {
  type: 'object',
  required: ['message', 'details'],
  properties: {
    message: { type: 'string' },
    details: { type: 'array', items: { type: 'object', required: ['path', 'errors'], properties: { path: { type: 'string' }, errors: { type: 'array', items: { type: 'string' } } } } },
  },
} as const;

function split(p: string): string[] {
  return p.split('/').filter(Boolean);
}

/** `:name` matches one segment, `*name` the rest of the path (possibly several segments). */
function matchParts(pattern: string[], segs: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.startsWith('*')) {
      if (i >= segs.length) return undefined;
      params[p.slice(1)] = segs.slice(i).map(decodeURIComponent).join('/');
      return params;
    }
    const s = segs[i];
    if (s === undefined) return undefined;
    if (p.startsWith(':')) params[p.slice(1)] = decodeURIComponent(s);
    else if (p !== s) return undefined;
  }
  return segs.length === pattern.length ? params : undefined;
}

export interface ServeOptions {
  host: string;
  port: number;
  maxBody?: number;
  onError?: (err: unknown, req: http.IncomingMessage) => void;
  /** HTTPS with client certificates of the cluster CA (mutual TLS); absent: plain HTTP. */
  tls?: ServerTls;
}

export interface ServerTls {
  /** The cluster CA and this node's certificate; a server without a certificate yet (an agent before its bootstrap) completes no handshake until setTls(). */
  material: Partial<TlsMaterial> & { ca: Buffer };
  /** Which cluster identities may call (default: any); another gets 403 naming it. */
  kinds?: readonly IdentityKind[];
  /**
   * The routes a caller may reach without a verified client certificate. Absent: the TLS layer
   * itself requires one. Present: a connection without a certificate is let through to these
   * routes only (every other route answers 401 naming why); a certificate that is not the
   * cluster CA's is refused at the TLS layer either way.
   */
  isPublic?: (method: string, path: string) => boolean;
  /** A request refused for want of a verified client certificate (metrics, rate-limited log). */
  onRefused?: (reason: string, req: http.IncomingMessage) => void;
}

export function send(res: http.ServerResponse, reply: Reply): void {
  if ('hijacked' in reply) return;
  const status = reply.status ?? 200;
  if ('json' in reply) {
    const body = JSON.stringify(reply.json);
    res.writeHead(status, { 'content-type': 'application/json', ...reply.headers });
    res.end(body);
  } else {
    res.writeHead(status, { 'content-type': reply.contentType ?? 'text/plain; charset=utf-8', ...reply.headers });
    res.end(reply.text);
  }
}

function errorReply(err: unknown): Reply {
  if (err instanceof ValidationError) return { status: 422, json: { message: 'Object is not valid', details: err.details } };
  if (err instanceof NotFoundError) return { status: 404, json: { message: err.message } };
  if (err instanceof ConflictError) return { status: 409, json: { message: err.message } };
  // RFC 9110 §10.2.3: a 503 may say when to come back; one second is what every refusal of this kind needs
  // (a new leader starting its services, a store not answering), so a client that honours it retries in time.
  if (err instanceof UnavailableError) return { status: 503, json: { message: err.message }, headers: { 'retry-after': '1' } };
  return { status: 500, json: { message: err instanceof Error ? err.message : String(err) } };
}

async function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) throw new BodyError(413, `request body over ${max} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function handle(router: Router, req: http.IncomingMessage, res: http.ServerResponse, maxBody = 1 << 20): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const m = router.match(req.method ?? 'GET', url.pathname);
  if (m === undefined) return send(res, { status: 404, json: { message: `no route for ${url.pathname}` } });
  if (m === 'method') return send(res, { status: 405, json: { message: `method ${req.method} not allowed on ${url.pathname}` } });
  let body: unknown;
  try {
    const text = req.method === 'GET' || req.method === 'HEAD' ? '' : await readBody(req, maxBody);
    if (text.trim()) {
      try {
        body = JSON.parse(text);
      } catch (e) {
        throw new BodyError(400, `malformed JSON body: ${(e as Error).message}`);
      }
    }
  } catch (e) {
    const status = e instanceof BodyError ? e.status : 400;
    return send(res, { status, json: { message: (e as Error).message } });
  }
  await run(m, { method: req.method ?? 'GET', path: url.pathname, params: m.params, query: url.searchParams, headers: req.headers, body, raw: req }, res);
}

type Match = Exclude<ReturnType<Router['match']>, 'method' | undefined>;

async function run(m: Match, request: Request, res: http.ServerResponse): Promise<void> {
  if (m.nullIsAbsent) request.body = withoutNulls(request.body);
  let reply: Reply;
  try {
    m.body?.check(request.body);
    reply = await m.handler(request, res);
  } catch (e) {
    reply = errorReply(e);
  }
  if (!res.headersSent) send(res, reply);
}

/**
 * Hands a request another router already read (body parsed) to `router` under `path` (the
 * in-process stand-in for a proxy: `/marathon/v2/apps` on one port answered by the Marathon router).
 * Same validation, errors and 404/405 as if `router` had received it.
 */
export async function forward(router: Router, req: Request, path: string, res: http.ServerResponse): Promise<Reply> {
  const m = router.match(req.method, path);
  if (m === undefined) return { status: 404, json: { message: `no route for ${path}` } };
  if (m === 'method') return { status: 405, json: { message: `method ${req.method} not allowed on ${path}` } };
  await run(m, { ...req, path, params: m.params }, res);
  return { hijacked: true };
}

/** A copy of a JSON value without the object properties that are null. */
export function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
}

export interface HttpServer {
  server: http.Server | https.Server;
  /** Replace the TLS material (a certificate that arrived after listening); only for a server started with tls. */
  setTls?(material: Partial<TlsMaterial> & { ca: Buffer }): void;
  address(): { host: string; port: number };
  close(): Promise<void>;
}

/** Listen; resolves once bound (port 0 picks a free port, see address()). */
export async function serve(router: Router, opts: ServeOptions): Promise<HttpServer> {
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    // The Date header from common/utc-time.ts, not Node's (Date.prototype.toUTCString: ICU's time zone data, issue #26).
    res.sendDate = false;
    res.setHeader('date', httpDate());
    if (opts.tls && refusedWithoutCertificate(opts.tls, req, res)) return;
    handle(router, req, res, opts.maxBody).catch((err) => {
      opts.onError?.(err, req);
      if (!res.headersSent) send(res, { status: 500, json: { message: 'internal error' } });
      else res.destroy();
    });
  };
  const server = opts.tls ? tlsServer(opts.tls, onRequest) : http.createServer(onRequest);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    ...(opts.tls ? { setTls: (m: Partial<TlsMaterial> & { ca: Buffer }) => (server as https.Server).setSecureContext({ ...m, minVersion: 'TLSv1.2' }) } : {}),
    address: () => {
      const a = server.address() as AddressInfo;
      return { host: a.address, port: a.port };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

function tlsServer(tls: ServerTls, onRequest: http.RequestListener): https.Server {
  const { ca, cert, key } = tls.material;
  const server = https.createServer({ ca, cert, key, requestCert: true, rejectUnauthorized: !tls.isPublic, minVersion: 'TLSv1.2' }, onRequest);
  if (tls.isPublic)
    // Without a certificate a caller may reach the public routes; with one, it must be the cluster CA's.
    server.on('secureConnection', (socket: TLSSocket) => {
      if (!socket.authorized && Object.keys(socket.getPeerCertificate() ?? {}).length > 0) socket.destroy();
    });
  return server;
}

/** Answers 401 (and returns true) when the route needs a verified client certificate with a cluster identity the caller lacks. */
function refusedWithoutCertificate(tls: ServerTls, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const peer = peerIdentity(req.socket);
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (peer.ok) {
    if (!tls.kinds || tls.kinds.includes(peer.identity.kind)) return false;
    tls.onRefused?.('identity_not_allowed', req);
    req.resume();
    send(res, { status: 403, json: { message: `${path} is not for ${peer.identity.uri} (allowed: ${tls.kinds.join(', ')})`, reason: 'identity_not_allowed' } });
    return true;
  }
  if (tls.isPublic?.(req.method ?? 'GET', path)) return false;
  tls.onRefused?.(peer.reason, req);
  req.resume();
  send(res, { status: 401, json: { message: `${path} needs a client certificate of the cluster CA: ${peer.why}`, reason: peer.reason } });
  return true;
}

/** Client side of mutual TLS: trust only the cluster CA, present this node's certificate (when it has one). */
export interface ClientTls {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Check the server's certificate beyond the CA and its IP/DNS SAN (e.g. the expected cluster identity); return an Error to refuse. */
  checkServerIdentity?: (host: string, cert: import('node:tls').PeerCertificate) => Error | undefined;
}

/** A response body for an error message: its JSON (cut at `max` characters), its text, or "an empty body". */
export function bodyText(body: unknown, max = 300): string {
  if (body === undefined || body === '') return 'an empty body';
  const s = typeof body === 'string' ? body : JSON.stringify(body);
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

export { requestJson, responseJson, type RequestJsonOptions } from './request-json.js';
