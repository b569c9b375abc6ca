/**
 * `requestJson`: a JSON HTTP call with a deadline, on node:http / node:https. Not `fetch`: the first
 * `fetch` loads Node's bundled undici (about a megabyte of JavaScript compiled into the heap and its
 * HTTP parser compiled from WebAssembly), which a plain-HTTP agent would otherwise carry for its
 * registration and heartbeats alone (issue #26). The plain path keeps what `fetch` did: it follows
 * redirects (at most 20; 303, and 301/302 of a POST, go on as a GET without the body; the
 * `authorization` and `cookie` headers are not sent to another origin) and uses the default
 * keep-alive agents. With `tls` (https, the cluster CA and this node's certificate) redirects are not
 * followed, as before.
 */
import http from 'node:http';
import https from 'node:https';
import { checkServerIdentity as tlsCheckServerIdentity, type PeerCertificate } from 'node:tls';
import type { ClientTls } from './http.js';

export interface RequestJsonOptions {
  method?: string;
  body?: unknown;
  timeoutMs?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  tls?: ClientTls;
}

/** A whole response: its status, headers and body (parsed as JSON when it is JSON, else the text; undefined when empty). */
export function responseJson(res: http.IncomingMessage): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: unknown }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c)).on('error', reject).on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: keep the text */
      }
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
    });
  });
}

const MAX_REDIRECTS = 20;
const CROSS_ORIGIN_DROPPED = ['authorization', 'cookie', 'proxy-authorization'];

/** A JSON HTTP call with a timeout (default 5 s, for the whole exchange); throws on network errors (the error's `cause` is the socket's), returns status and parsed body. */
export async function requestJson(url: string, opts: RequestJsonOptions = {}): Promise<{ status: number; body: unknown }> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
  let method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST');
  let payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  let headers: Record<string, string> = { ...opts.headers };
  let target = new URL(url);
  for (let hops = 0; ; hops++) {
    const res = await exchange(target, method, headers, payload, signal, timeoutMs, target.protocol === 'https:' ? opts.tls : undefined);
    const location = res.headers.location;
    if (opts.tls || ![301, 302, 303, 307, 308].includes(res.status) || typeof location !== 'string') return { status: res.status, body: res.body };
    if (hops >= MAX_REDIRECTS) throw new Error(`${method} ${url}: more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, target);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new Error(`${method} ${url}: redirected to ${next.protocol} (${location})`);
    if (res.status === 303 ? method !== 'HEAD' : (res.status === 301 || res.status === 302) && method === 'POST') {
      method = 'GET';
      payload = undefined;
    }
    if (next.origin !== target.origin) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !CROSS_ORIGIN_DROPPED.includes(k.toLowerCase())));
    target = next;
  }
}

function exchange(
  url: URL,
  method: string,
  extra: Record<string, string>,
  payload: Buffer | undefined,
  signal: AbortSignal,
  timeoutMs: number,
  tls: ClientTls | undefined,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: unknown }> {
  const headers = { ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(payload.length) }), ...extra };
  const tlsOptions = tls
    ? {
        ca: tls.ca,
        ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
        ...(tls.checkServerIdentity ? { checkServerIdentity: (host: string, c: PeerCertificate) => tls.checkServerIdentity!(host, c) ?? tlsCheckServerIdentity(host, c) } : {}),
        agent: false as const,
      }
    : {};
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(stopped(url, method, signal, timeoutMs));
    const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, ...tlsOptions }, (res) => responseJson(res).then(resolve, fail));
    function fail(e: unknown): void {
      signal.removeEventListener('abort', onAbort);
      reject(signal.aborted ? stopped(url, method, signal, timeoutMs) : new Error(`${method} ${url.href}: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    }
    const onAbort = () => req.destroy(stopped(url, method, signal, timeoutMs) as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('close', () => signal.removeEventListener('abort', onAbort));
    req.on('error', fail);
    req.end(payload);
  });
}

/** The deadline passed (a TimeoutError naming the URL), or the caller's signal aborted (its reason). */
function stopped(url: URL, method: string, signal: AbortSignal, timeoutMs: number): unknown {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') return Object.assign(new Error(`${method} ${url.href}: no answer within ${timeoutMs} ms`), { name: 'TimeoutError' });
  return reason;
}
