/**
 * The entry point (Admin Router): one HTTPS listener (HTTP/2, and HTTP/1.1 through ALPN fallback)
 * that maps each request (routes.ts), refuses what it must (bad path, header and body limits,
 * authentication, the permission table), writes an audit line for every write, and forwards the rest
 * (forward.ts). Construction does no I/O; start() listens; stop() closes every connection.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { TlsMaterial } from '../../common/tls-files.js';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Readable, Transform } from 'node:stream';
import { systemClock, type Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { Registry } from '../../common/metrics.js';
import type { Authority, Identity, Permission } from '../../contracts/auth.js';
import { AuthGate, type Gate } from './auth-gate.js';
import { DEFAULT_ENTRY_LIMITS, type EntryLimits } from './config.js';
import { forward, forwardWs, LeaderMoved, type AnyReq, type AnyRes } from './forward.js';
import { createEntryMetrics, type EntryMetrics } from './metrics.js';
import type { Need } from './permissions.js';
import { RouteCache } from './route-cache.js';
import { BadPath, type Mapped } from './routes.js';
import type { Target, Upstreams } from './upstreams.js';

export interface EntryOptions {
  host: string;
  port: number;
  /** PEM certificate (chain) and key. */
  cert: string | Buffer;
  key: string | Buffer;
  upstreams: Upstreams;
  /** The identity service; undefined (none in this master) refuses every non-public request with 503. */
  authority: () => Authority | undefined;
  registry: Registry;
  log: Logger;
  limits?: Partial<EntryLimits>;
  clock?: Clock;
  /** Instead of an AuthGate in front of `authority` and metrics in `registry`: a worker process's relays to its primary (workers.ts). */
  gate?: Gate;
  metrics?: EntryMetrics;
  /** The client certificate (and CA) for upstreams under mutual TLS (targets with `tls`). */
  upstreamTls?: TlsMaterial;
  /**
   * Behind the nginx front (front.ts): plain HTTP/1.1 on this unix socket instead of TLS on host:port,
   * the client's address taken from the front's `x-sextant-*` headers, and the front's decision check
   * (`/_sextant/auth`) answered; `decisionMs`: how long the front may reuse an allowed read.
   */
  behind?: { socket: string; decisionMs: number };
}

/** Why the entry point itself refused a request: status, metric reason, body. */
class Refusal {
  constructor(readonly status: number, readonly reason: string, readonly message: string, readonly extra: Record<string, unknown> = {}, readonly headers: Record<string, string> = {}) {}
}

const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The path of the front's decision check (front-conf.ts); only reachable on the unix socket behind the front. */
export const AUTH_CHECK_PATH = '/_sextant/auth';
/** Headers the nginx front sets on every request it passes (overwriting any the client sent). */
const FRONT_HEADERS = ['x-sextant-client', 'x-sextant-client-port', 'x-sextant-server', 'x-sextant-server-port'];
/** Room for the headers the front adds, above the client's header limit. */
const FRONT_HEADER_ALLOWANCE = 2048;

interface ClientConn {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  localAddress?: string | undefined;
  localPort?: number | undefined;
}
const fronted = new WeakMap<object, ClientConn>();

/** The client's header bytes (the front's own `x-sextant-*` headers not counted). */
function headerBytes(raw: string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length > 10 && (k.charCodeAt(0) | 32) === 120 && k.toLowerCase().startsWith('x-sextant-')) continue;
    n += k.length + raw[i + 1]!.length + 4;
  }
  return n;
}

export class EntryServer {
  readonly limits: EntryLimits;
  private server: http2.Http2SecureServer | undefined;
  private readonly gate: Gate;
  private readonly metrics: EntryMetrics;
  private readonly plainAgent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 });
  private readonly tlsAgent: https.Agent | undefined;
  private readonly sessions = new Set<{ destroy(): void }>();
  private readonly routes = new RouteCache();
  private readonly clock: Clock;

  constructor(private readonly o: EntryOptions) {
    this.limits = { ...DEFAULT_ENTRY_LIMITS, ...o.limits };
    const clock = o.clock ?? systemClock;
    this.clock = clock;
    this.gate = o.gate ?? new AuthGate(o.authority, { clock, cacheMs: this.limits.tokenCacheMs, cacheSize: this.limits.tokenCacheSize, throttleFailures: this.limits.throttleFailures, throttleWindowMs: this.limits.throttleWindowMs });
    this.metrics = o.metrics ?? createEntryMetrics(o.registry);
    this.tlsAgent = o.upstreamTls ? new https.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, ...o.upstreamTls }) : undefined;
  }

  private agentFor(t: Target): http.Agent {
    return t.tls && this.tlsAgent ? this.tlsAgent : this.plainAgent;
  }

  async start(): Promise<void> {
    if (this.o.behind) return this.startBehind(this.o.behind.socket);
    const srv = http2.createSecureServer({
      cert: this.o.cert,
      key: this.o.key,
      allowHTTP1: true,
      minVersion: 'TLSv1.2',
      settings: { maxHeaderListSize: this.limits.maxHeaderBytes + 1024 },
      maxSessionMemory: 64,
      // HTTP/1.1 over the same listener: Node's parser refuses larger headers with 431.
      ...({ maxHeaderSize: this.limits.maxHeaderBytes + 1024 } as object),
    });
    srv.on('request', (req: AnyReq, res: AnyRes) => void this.onRequest(req, res));
    srv.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => void this.onUpgrade(req, socket, head));
    srv.on('session', (s) => (this.sessions.add(s), s.once('close', () => this.sessions.delete(s))));
    srv.on('secureConnection', (s) => {
      // Without this, HTTP/1.1 responses through the ALPN fallback wait on Nagle + the client's delayed ACK.
      s.setNoDelay(true);
      this.sessions.add(s);
      s.once('close', () => this.sessions.delete(s));
    });
    srv.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.o.port, this.o.host, () => (srv.off('error', reject), resolve()));
    });
    this.server = srv;
    this.o.log.info('entry_listening', { address: this.o.host, port: this.port });
  }

  /** Plain HTTP/1.1 on a unix socket, for the nginx front only (the socket's directory is the front's, 0700). */
  private async startBehind(socket: string): Promise<void> {
    fs.rmSync(socket, { force: true });
    const srv = http.createServer({ maxHeaderSize: this.limits.maxHeaderBytes + FRONT_HEADER_ALLOWANCE, keepAliveTimeout: 75_000 });
    srv.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.url === AUTH_CHECK_PATH) return void this.onDecision(req, res);
      void this.onRequest(req, res);
    });
    srv.on('upgrade', (req: http.IncomingMessage, s, head: Buffer) => void this.onUpgrade(req, s, head));
    srv.on('connection', (s) => (this.sessions.add(s), s.once('close', () => this.sessions.delete(s))));
    srv.headersTimeout = 0;
    srv.requestTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(socket, () => (srv.off('error', reject), resolve()));
    });
    this.server = srv as unknown as http2.Http2SecureServer;
    this.o.log.debug('entry_behind_front', { socket });
  }

  get port(): number {
    if (this.o.behind) return 0;
    return (this.server?.address() as AddressInfo | null)?.port ?? this.o.port;
  }

  async stop(): Promise<void> {
    const srv = this.server;
    this.server = undefined;
    if (!srv) return;
    const closed = new Promise<void>((r) => srv.close(() => r()));
    for (const s of this.sessions) s.destroy();
    await closed;
    this.plainAgent.destroy();
    this.tlsAgent?.destroy();
  }

  /** Token verifications skipped thanks to the cache (for the benchmark and tests). */
  get cachedTokens(): number {
    return this.gate.cached;
  }

  // ---- request flow ----

  /** The client's connection: the socket, or behind the front what the front said about its own (headers it always sets). */
  private clientOf(req: AnyReq): ClientConn {
    if (!this.o.behind) return req.socket as ClientConn;
    let c = fronted.get(req);
    if (c === undefined) {
      const h = req.headers;
      const one = (k: string) => (typeof h[k] === 'string' ? (h[k] as string) : undefined);
      c = { remoteAddress: one('x-sextant-client'), remotePort: Number(one('x-sextant-client-port')) || undefined, localAddress: one('x-sextant-server'), localPort: Number(one('x-sextant-server-port')) || undefined };
      for (const k of FRONT_HEADERS) delete h[k];
      fronted.set(req, c);
    }
    return c;
  }

  /**
   * The front's check for a read it may serve itself (GET/HEAD of /mesos/, /marathon/, /mesos_dns/):
   * `x-sextant-uri` is the client's request target, the credential headers are the client's. 200 with
   * `x-sextant-decision-ms` (how long the front may reuse it: the decision TTL, never past the token's
   * expiry) when the request would be forwarded; 403 otherwise, and the front then sends the request
   * itself here for the full answer (401/403/429 bodies, the throttle counted once, metrics).
   */
  private async onDecision(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const deny = (why: string) => void res.writeHead(403, { 'content-length': 0, 'x-sextant-why': why }).end();
    try {
      const target = req.headers['x-sextant-uri'];
      if (typeof target !== 'string') return deny('no x-sextant-uri');
      const address = this.clientOf(req).remoteAddress ?? '';
      const { need } = this.routes.resolve('GET', target);
      if (need.kind === 'public') return void res.writeHead(200, { 'content-length': 0, 'x-sextant-decision-ms': this.o.behind!.decisionMs }).end();
      if (need.kind !== 'permission') return deny(need.kind);
      const auth = await this.gate.authenticate(req.headers, address, false);
      if (!auth.ok) return deny(auth.reason);
      if (!(await this.gate.authorize(auth.identity, need.permission))) return deny('forbidden');
      const ms = Math.min(this.o.behind!.decisionMs, (auth.identity.expiresAt ?? Infinity) - this.clock.now());
      if (ms <= 0) return deny('expired');
      res.writeHead(200, { 'content-length': 0, 'x-sextant-decision-ms': Math.floor(ms) }).end();
    } catch (e) {
      deny(e instanceof BadPath ? 'bad-path' : 'error');
    }
  }

  private async onRequest(req: AnyReq, res: AnyRes): Promise<void> {
    const method = req.method ?? 'GET';
    let m: Mapped | undefined;
    let who: Identity | undefined;
    let refused: Refusal | undefined;
    let counted = false;
    const finish = () => {
      if (counted) return;
      counted = true;
      this.done(req, res, m, who, refused);
    };
    res.once('finish', finish).once('close', finish);
    this.clientOf(req);
    try {
      const r = this.routes.resolve(method, req.url ?? '/');
      m = r.m;
      const body = await this.admit(req, m, r.need, method, (i) => (who = i));
      await this.proxy(req, res, m, body);
    } catch (e) {
      if (e instanceof BadPath) refused = new Refusal(400, 'bad-path', e.message);
      else if (e instanceof Refusal) refused = e;
      if (refused) return this.refuse(res, refused);
      this.o.log.error('entry_error', { path: req.url, err: e });
      this.reply(res, 500, { message: 'internal error in the entry point' });
    }
  }

  /** Every check before a request may be forwarded; throws a Refusal. Returns a buffered body when the permission needed it. */
  private async admit(req: AnyReq, m: Mapped, need: Need, method: string, identified: (i: Identity) => void): Promise<Buffer | undefined> {
    if (headerBytes(req.rawHeaders) > this.limits.maxHeaderBytes) throw new Refusal(431, 'headers-too-large', `request headers exceed ${this.limits.maxHeaderBytes} bytes`);
    const len = Number(req.headers['content-length'] ?? 0);
    if (len > this.limits.maxBodyBytes) throw new Refusal(413, 'body-too-large', `request body of ${len} bytes exceeds the limit of ${this.limits.maxBodyBytes} bytes`);
    if (need.kind === 'none') throw new Refusal(403, 'no-permission-entry', `${method} ${m.prefix}${m.path} has no entry in the entry point's permission table: refused`);
    if (need.kind === 'public') return undefined;
    const auth = await this.gate.authenticate(req.headers, this.clientOf(req).remoteAddress ?? '');
    if (!auth.ok) {
      throw auth.status === 429
        ? new Refusal(429, 'throttled', auth.message, { code: 'throttled' }, { 'retry-after': String(auth.retryAfterS) })
        : new Refusal(auth.status, auth.reason, auth.message, { code: auth.reason }, auth.status === 401 ? { 'www-authenticate': 'token' } : {});
    }
    identified(auth.identity);
    let body: Buffer | undefined;
    let permission: Permission;
    if (need.kind === 'body') {
      body = await this.readBody(req);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      permission = need.fromBody(parsed);
    } else permission = need.permission;
    if (!(await this.gate.authorize(auth.identity, permission)))
      throw new Refusal(403, 'forbidden', `${auth.identity.uid} lacks the permission ${permission.resource} ${permission.action}`, { code: 'forbidden', permission });
    return body;
  }

  private readBody(req: AnyReq): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        if (n > this.limits.maxBodyBytes) {
          req.removeAllListeners('data');
          req.resume();
          reject(new Refusal(413, 'body-too-large', `request body exceeds the limit of ${this.limits.maxBodyBytes} bytes`));
        } else chunks.push(c);
      });
      req.once('end', () => resolve(Buffer.concat(chunks)));
      req.once('error', reject);
    });
  }

  private async target(m: Mapped): Promise<Target> {
    const u = this.o.upstreams;
    try {
      if (m.upstream === 'marathon') return await u.marathon();
      if (m.upstream === 'mesos-dns') return await u.mesosDns();
      if (m.upstream === 'service') return await u.service(m.app!);
      return await u.mesos();
    } catch (e) {
      if ((e as Error).name === 'UnavailableError') throw new Refusal(503, 'upstream-unavailable', (e as Error).message, { code: 'unavailable' });
      throw e;
    }
  }

  private async proxy(req: AnyReq, res: AnyRes, m: Mapped, body: Buffer | undefined, retried = false): Promise<void> {
    const target = await this.target(m);
    const start = process.hrtime.bigint();
    const src = body !== undefined ? substitute(req, Readable.from([body]), body.length) : this.limitedBody(req, res);
    try {
      await forward(src, res, target, m, {
        agent: this.agentFor(target),
        client: this.clientOf(req),
        timeoutMs: this.limits.upstreamTimeoutMs,
        onHeaders: () => this.metrics.upstreamSeconds.observe({ route: m.route }, Number(process.hrtime.bigint() - start) / 1e9),
      });
    } catch (e) {
      const err = e as Error & { statusCode?: number };
      if (err instanceof LeaderMoved) {
        this.o.upstreams.leaderChanged();
        const method = req.method ?? 'GET';
        if (!retried && (method === 'GET' || method === 'HEAD') && !res.headersSent) return this.proxy(req, res, m, body, true);
        return this.reply(res, 503, { message: `${err.message}; retry`, code: 'leader-moved' }, { 'retry-after': '1' });
      }
      if (src !== req && (src as { tooLarge?: boolean }).tooLarge) return; // already answered 413
      if (res.headersSent) return void res.destroy();
      this.reply(res, err.statusCode ?? 502, { message: err.statusCode === 504 ? err.message : `upstream ${target.host}:${target.port} failed: ${err.message}`, code: err.statusCode === 504 ? 'upstream-timeout' : 'upstream-error' });
    }
  }

  /**
   * A request without Content-Length (chunked, or HTTP/2 without the header) goes through a counter:
   * past the limit the upstream request is aborted before its end (the upstream never gets a complete
   * request) and the client gets 413. With Content-Length the limit was checked up front.
   */
  private limitedBody(req: AnyReq, res: AnyRes): AnyReq {
    const method = req.method ?? 'GET';
    if (req.headers['content-length'] !== undefined || method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return req;
    let n = 0;
    const max = this.limits.maxBodyBytes;
    const counted = new Transform({
      transform: (c: Buffer, _e, cb) => {
        n += c.length;
        if (n > max) {
          (out as { tooLarge?: boolean }).tooLarge = true;
          this.refuse(res, new Refusal(413, 'body-too-large', `request body exceeds the limit of ${max} bytes`));
          return cb(new Error('body too large'));
        }
        cb(null, c);
      },
    });
    const out = substitute(req, counted, undefined);
    req.pipe(counted);
    return out;
  }

  private async onUpgrade(req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): Promise<void> {
    let m: Mapped | undefined;
    socket.on('error', () => undefined);
    try {
      const r = this.routes.resolve('GET', req.url ?? '/');
      m = r.m;
      this.clientOf(req);
      await this.admit(req, m, r.need, 'GET', () => undefined);
      const target = await this.target(m);
      this.metrics.requests.inc({ route: m.route, code: '101' });
      await forwardWs(req, socket, head, target, m, { agent: this.agentFor(target), timeoutMs: this.limits.upstreamTimeoutMs, onHeaders: () => undefined });
    } catch (e) {
      const r = e instanceof Refusal ? e : e instanceof BadPath ? new Refusal(400, 'bad-path', e.message) : new Refusal(502, 'upstream-error', (e as Error).message);
      if (e instanceof Refusal || e instanceof BadPath) this.metrics.refusals.inc({ reason: r.reason });
      this.metrics.requests.inc({ route: m?.route ?? 'unknown', code: String(r.status) });
      if (socket.writable) {
        const body = JSON.stringify({ code: r.reason, message: r.message, ...r.extra });
        socket.end(`HTTP/1.1 ${r.status} ${http.STATUS_CODES[r.status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      } else socket.destroy();
    }
  }

  // ---- answers, metrics, audit ----

  private refuse(res: AnyRes, r: Refusal): void {
    this.reply(res, r.status, { code: r.reason, message: r.message, ...r.extra }, r.headers);
  }

  private reply(res: AnyRes, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
    if (res.headersSent) return void res.destroy();
    const text = JSON.stringify(body);
    (res as http.ServerResponse).writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private done(req: AnyReq, res: AnyRes, m: Mapped | undefined, who: Identity | undefined, refused: Refusal | undefined): void {
    const code = String(res.statusCode);
    this.metrics.requests.inc({ route: m?.route ?? 'unknown', code });
    if (refused) this.metrics.refusals.inc({ reason: refused.reason });
    const method = req.method ?? 'GET';
    if (WRITE.has(method))
      this.o.log.info('audit', { uid: who?.uid ?? null, method, path: req.url, route: m?.route ?? null, allowed: !refused, status: res.statusCode, ...(refused ? { reason: refused.reason } : {}), client: this.clientOf(req).remoteAddress });
  }
}

/** A stand-in request for http2-proxy whose body comes from `body` (a buffered or counted copy). */
function substitute(req: AnyReq, body: Readable, length: number | undefined): AnyReq {
  const headers = { ...req.headers };
  if (length !== undefined) headers['content-length'] = String(length);
  return Object.assign(body, { method: req.method, url: req.url, headers, httpVersion: req.httpVersion, socket: req.socket, aborted: false }) as unknown as AnyReq;
}
