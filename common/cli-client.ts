/**
 * The one HTTP client of the `sextant` CLI. It decides where the cluster is, once, by these rules:
 *   1. `--url URL` (else `$SEXTANT_URL`, unless --master or --marathon is given): an entry point (https, DC/OS layout); Marathon is
 *      `${url}/marathon`, the Mesos API `${url}/mesos`, the network API `${url}/net`, an agent
 *      `${url}/agent/<id>`; the CA that signed its certificate comes from `--ca` (else `$SEXTANT_CA`).
 *   2. otherwise the master's own ports: `--master HOST[:PORT]` (else `$SEXTANT_MASTER`, else
 *      127.0.0.1:5050) for the Mesos and network APIs, and Marathon at `--marathon HOST[:PORT]`
 *      (else `$SEXTANT_MARATHON`, else the master's host on :8080); an agent at the address the
 *      master's /master/state gives it.
 * With `--cert`/`--key` (else `$SEXTANT_CERT`/`$SEXTANT_KEY`) every https request presents that client
 * certificate: what a component port under mutual TLS (#30) asks for (`sextant up` issues a `cli` one
 * and names it in its status file); `--master https://IP:5050 --ca ca.crt --cert cli.crt --key cli.key`.
 * Paths the entry point serves at its root (`/system/...`, `/acs/api/v1`) are the `root` API: the
 * entry point itself, else the master. Every request carries `authHeaders()` (common/cli-token.ts;
 * none with `anonymous`, a login), follows leader redirects (a few
 * hops; the token goes along only to the same origin or to a leader redirect of the same path),
 * and an answer outside 2xx becomes an ApiError whose message is the API's own (Marathon
 * `{message, details}`, DC/OS `{title, description}`, Mesos plain text).
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { authHeaders } from './cli-token.js';
import { endpointUrl } from './endpoint.js';

/**
 * Which API a path is of. `root`: the paths an entry point serves at its root and passes on
 * unchanged (`/system/health/v1`, `/system/diag/v1`, `/acs/api/v1`), which the master serves at
 * the same paths on its own port.
 */
export type Api = 'mesos' | 'marathon' | 'net' | 'root';

export interface ClusterOptions {
  url?: string;
  ca?: string;
  master?: string;
  marathon?: string;
  /** A client certificate and its key (PEM paths) for component ports under mutual TLS. */
  cert?: string;
  key?: string;
}

/** Bad `--url`/`--master`/... or an unreadable CA file: a usage problem (exit 2), nothing was sent. */
export class ClusterConfigError extends Error {
  override name = 'ClusterConfigError';
}

/** The API answered outside 2xx; `message` is what it said. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** The request never got an answer (refused, timed out, TLS failure, too many redirects). */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Send no token (a login). */
  anonymous?: boolean;
  /** A 2xx answer's body as its text, unparsed (logs, a state to keep as written). */
  text?: boolean;
}

/** A 2xx answer: its status, parsed body (or text) and headers. */
export interface Answer<T = unknown> {
  status: number;
  body: T;
  headers: http.IncomingHttpHeaders;
}

interface Resolved {
  mode: 'entry' | 'direct';
  bases: Record<Exclude<Api, 'root'>, string>;
  /** Where `root` paths go: the entry point's base URL, else the master. */
  root: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

const MAX_REDIRECTS = 5;

/** Where the cluster is, from options then environment (see the file comment); throws ClusterConfigError. */
export function resolveCluster(o: ClusterOptions, env: NodeJS.ProcessEnv = process.env): Resolved {
  // An option given on the command line beats every environment variable: --master means the master even when SEXTANT_URL is set.
  const url = o.url ?? (o.master === undefined && o.marathon === undefined ? env.SEXTANT_URL : undefined);
  const caPath = o.ca ?? env.SEXTANT_CA;
  let ca: Buffer | undefined;
  if (caPath) {
    try {
      ca = readFileSync(caPath);
    } catch (e) {
      throw new ClusterConfigError(`${o.ca ? '--ca' : 'SEXTANT_CA'} ${caPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const client = clientCert(o, env);
  if (url) {
    const what = o.url ? '--url' : 'SEXTANT_URL';
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new ClusterConfigError(`${what} ${JSON.stringify(url)} is not a URL (https://HOST[:PORT])`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ClusterConfigError(`${what} ${JSON.stringify(url)}: only https (or http) is spoken`);
    if (u.username || u.password || u.search || u.hash) throw new ClusterConfigError(`${what} ${JSON.stringify(url)} must be a plain base URL`);
    const base = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
    return { mode: 'entry', bases: { mesos: `${base}/mesos`, marathon: `${base}/marathon`, net: `${base}/net` }, root: base, ...(ca ? { ca } : {}), ...client };
  }
  const fromMaster = o.master ?? env.SEXTANT_MASTER;
  let mesos: string;
  let marathon: string;
  try {
    mesos = endpointUrl(fromMaster ?? '127.0.0.1', 5050, o.master !== undefined ? '--master' : 'SEXTANT_MASTER');
    const m = o.marathon ?? env.SEXTANT_MARATHON;
    const u = new URL(mesos);
    marathon = m !== undefined ? endpointUrl(m, 8080, o.marathon !== undefined ? '--marathon' : 'SEXTANT_MARATHON') : endpointUrl(`${u.protocol}//${u.hostname}`, 8080, 'the master');
  } catch (e) {
    throw new ClusterConfigError((e as Error).message);
  }
  return { mode: 'direct', bases: { mesos, marathon, net: mesos }, root: mesos, ...(ca ? { ca } : {}), ...client };
}

/** `--cert`/`--key` (else SEXTANT_CERT/SEXTANT_KEY): both or neither, readable. */
function clientCert(o: ClusterOptions, env: NodeJS.ProcessEnv): { cert?: Buffer; key?: Buffer } {
  const certPath = o.cert ?? (o.key === undefined ? env.SEXTANT_CERT : undefined);
  const keyPath = o.key ?? (o.cert === undefined ? env.SEXTANT_KEY : undefined);
  if (certPath === undefined && keyPath === undefined) return {};
  const src = (flag: 'cert' | 'key') => (o[flag] !== undefined ? `--${flag}` : `SEXTANT_${flag.toUpperCase()}`);
  if (certPath === undefined || keyPath === undefined) throw new ClusterConfigError(`${certPath === undefined ? src('key') : src('cert')} needs ${certPath === undefined ? '--cert (or SEXTANT_CERT)' : '--key (or SEXTANT_KEY)'} too`);
  const read = (p: string, flag: 'cert' | 'key') => {
    try {
      return readFileSync(p);
    } catch (e) {
      throw new ClusterConfigError(`${src(flag)} ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  return { cert: read(certPath, 'cert'), key: read(keyPath, 'key') };
}

export class ClusterClient {
  private readonly r: Resolved;
  constructor(
    o: ClusterOptions = {},
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.r = resolveCluster(o, env);
  }

  get mode(): 'entry' | 'direct' {
    return this.r.mode;
  }

  base(api: Api): string {
    return api === 'root' ? this.r.root : this.r.bases[api];
  }

  /** Base URL of an agent's API: through the entry point by id, directly at the address the master gave. */
  agentBase(agentId: string, directUrl: string): string {
    return this.r.mode === 'entry' ? `${this.r.bases.mesos.replace(/\/mesos$/, '')}/agent/${encodeURIComponent(agentId)}` : directUrl;
  }

  /** A JSON call to one API; resolves with the parsed body of a 2xx answer, throws ApiError or UnreachableError. */
  async request<T = unknown>(api: Api, path: string, o: RequestOptions = {}): Promise<T> {
    return (await this.exchange<T>(api, path, o)).body;
  }

  /** The same, with the answer's status and headers (lowercase names). */
  async exchange<T = unknown>(api: Api, path: string, o: RequestOptions = {}): Promise<Answer<T>> {
    return (await this.call(`${this.base(api)}${this.netPath(api, path)}`, o)) as Answer<T>;
  }

  /**
   * The master serves the network metrics at `/net/v1/vips...` and `/net/v1/backends...` (the entry
   * point passes those paths on unchanged, admin/router/routes.ts), the rest of the network API
   * without the prefix: on the master's own port, `net` paths of the metrics keep their `/net`.
   */
  private netPath(api: Api, path: string): string {
    return api === 'net' && this.r.mode === 'direct' && /^\/v1\/(vips|backends)(\/|$|\?)/.test(path) ? `/net${path}` : path;
  }

  /** The same at a full URL (an agent's API). */
  call(url: string, o: RequestOptions = {}): Promise<Answer> {
    return callJson(url, { ...o, ...(this.r.ca ? { ca: this.r.ca } : {}), ...(this.r.cert && this.r.key ? { cert: this.r.cert, key: this.r.key } : {}), env: this.env });
  }
}

/**
 * One CLI request at a full URL: the stored token, leader redirects followed, a 2xx answer's
 * parsed body, else ApiError (the API's message) or UnreachableError.
 */
export async function callJson(url: string, o: RequestOptions & { ca?: Buffer; cert?: Buffer; key?: Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<Answer> {
  const target = new URL(url);
  for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) target.searchParams.set(k, String(v));
  const payload = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  let method = o.method ?? (payload === undefined ? 'GET' : 'POST');
  let body = payload;
  let auth = true;
  let cur = target;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await send(cur, method, body, auth && !o.anonymous ? authHeaders(o.env ?? process.env) : {}, o);
    if (res.status >= 300 && res.status < 400 && res.location) {
      const next = new URL(res.location, cur);
      // The token follows a redirect only to the same origin, or to a leader answering the same path.
      auth = auth && (next.origin === cur.origin || next.pathname === cur.pathname);
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method !== 'GET' && method !== 'HEAD')) {
        method = 'GET';
        body = undefined;
      }
      cur = next;
      continue;
    }
    const parsed = parseBody(res.text);
    if (res.status < 200 || res.status >= 300) throw new ApiError(res.status, apiMessage(res.status, parsed), parsed);
    return { status: res.status, body: o.text ? res.text : parsed, headers: res.headers };
  }
  throw new UnreachableError(`${target.href}: more than ${MAX_REDIRECTS} redirects`);
}

function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** What an API said when it refused: Marathon's message and details, DC/OS's title and description, Mesos's text. */
export function apiMessage(status: number, body: unknown): string {
  if (typeof body === 'string' && body.trim()) return `${body.trim()} (${status})`;
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const b = body as { message?: unknown; details?: unknown; title?: unknown; description?: unknown };
    if (typeof b.message === 'string') {
      const details = Array.isArray(b.details) ? b.details.map(detailText).filter(Boolean) : [];
      return details.length ? `${b.message}: ${details.join('; ')}` : b.message;
    }
    if (typeof b.title === 'string' || typeof b.description === 'string') return [b.title, b.description].filter((x) => typeof x === 'string' && x).join(': ');
    return `${status} ${JSON.stringify(body).slice(0, 300)}`;
  }
  return `${status} ${http.STATUS_CODES[status] ?? 'error'} (an empty body)`;
}

function detailText(d: unknown): string {
  if (!d || typeof d !== 'object') return String(d);
  const x = d as { path?: unknown; errors?: unknown };
  const errors = Array.isArray(x.errors) ? x.errors.join(', ') : '';
  return typeof x.path === 'string' ? `${x.path}: ${errors}` : errors;
}

interface RawResponse {
  status: number;
  location?: string;
  text: string;
  headers: http.IncomingHttpHeaders;
}

function send(url: URL, method: string, body: string | undefined, headers: Record<string, string>, o: RequestOptions & { ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<RawResponse> {
  const mod = url.protocol === 'https:' ? https : http;
  const signals = [AbortSignal.timeout(o.timeoutMs ?? 10_000), ...(o.signal ? [o.signal] : [])];
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method,
        headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers },
        signal: AbortSignal.any(signals),
        ...(url.protocol === 'https:' && o.ca ? { ca: o.ca } : {}),
        ...(url.protocol === 'https:' && o.cert && o.key ? { cert: o.cert, key: o.key } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
        res.on('error', (e) => reject(new UnreachableError(`${url.origin}: ${e.message}`)));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => reject(new UnreachableError(`cannot reach ${url.origin}: ${e.name === 'AbortError' || e.name === 'TimeoutError' ? 'no answer in time' : (e.code ?? e.message)}`)));
    req.end(body);
  });
}
