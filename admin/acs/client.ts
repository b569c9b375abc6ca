/**
 * The CLI's way to the ACS: an entry point (`--url` / $SEXTANT_URL, https with `--ca` / $SEXTANT_CA)
 * or a master directly (`--master` / $SEXTANT_MASTER, default 127.0.0.1:5050); both serve
 * `/acs/api/v1`. Sends the stored token (common/cli-token.ts) unless told not to. API errors become
 * an AcsCallError carrying the API's own description.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { authHeaders, endpointUrl, masterUrl } from '../../common/index.js';

export interface Target {
  base: string;
  ca?: Buffer;
}

export class AcsCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AcsCallError';
  }
}

export function resolveTarget(o: { url?: string; master?: string; ca?: string }, env: NodeJS.ProcessEnv = process.env): Target {
  const url = o.url ?? env.SEXTANT_URL;
  const caFile = o.ca ?? env.SEXTANT_CA;
  const base = url !== undefined ? endpointUrl(url, /^https:/i.test(url) ? 443 : 80, o.url !== undefined ? '--url' : 'SEXTANT_URL') : masterUrl(o.master);
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (e) {
      throw new Error(`cannot read the CA file ${caFile}: ${(e as Error).message}`);
    }
  }
  return { base, ...(ca ? { ca } : {}) };
}

/** The API's own words for an error body: DC/OS `{description}` or `{message}`, else the text. */
function describe(status: number, body: unknown): string {
  const b = body as { description?: unknown; message?: unknown; code?: unknown } | undefined;
  if (b && typeof b === 'object') {
    if (typeof b.description === 'string') return `${b.description}${typeof b.code === 'string' ? ` (${b.code})` : ''}`;
    if (typeof b.message === 'string') return b.message;
  }
  return `HTTP ${status}${typeof body === 'string' && body ? `: ${body.slice(0, 300)}` : ''}`;
}

export async function acsCall(target: Target, method: string, path: string, o: { body?: unknown; anonymous?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<unknown> {
  const url = new URL(`${target.base}/acs/api/v1${path}`);
  const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
  const headers: Record<string, string> = { accept: 'application/json', ...(o.anonymous ? {} : authHeaders(o.env)) };
  if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(payload.length) });
  const mod = url.protocol === 'https:' ? https : http;
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = mod.request(url, { method, headers, timeout: 15_000, ...(target.ca ? { ca: target.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} within 15 s`)));
    req.on('error', (e) => reject(new Error(`cannot reach ${url.origin}: ${e.message}`)));
    req.end(payload);
  });
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* keep the text */
  }
  if (status >= 300) throw new AcsCallError(status, describe(status, body));
  return body;
}
