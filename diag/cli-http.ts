/**
 * The CLI's one way to the master's API (`sextant node|diag`): GET with the stored token
 * (common/cli-token.ts) and a timeout; a non-200 answer throws with the API's own message. Kept in
 * one function so it can move to the shared CLI client when that lands.
 */
import { authHeaders } from '../common/cli-token.js';

export class ApiError extends Error {
  override name = 'ApiError';
}

export interface Fetched {
  text: string;
  contentType: string;
}

export async function apiGet(base: string, path: string, timeoutMs = 30_000): Promise<Fetched> {
  const url = `${base}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: authHeaders(), signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new ApiError(`GET ${url} failed: ${(e as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e as Error).message}${cause ? ` (${cause})` : ''}`);
  }
  const text = await res.text();
  if (res.status !== 200) {
    let msg = text.slice(0, 500);
    try {
      msg = (JSON.parse(text) as { message?: string }).message ?? msg;
    } catch {
      /* not JSON: the text is the message */
    }
    throw new ApiError(`GET ${url}: HTTP ${res.status}: ${msg}`);
  }
  return { text, contentType: res.headers.get('content-type') ?? '' };
}

export async function apiJson<T>(base: string, path: string, timeoutMs?: number): Promise<T> {
  const r = await apiGet(base, path, timeoutMs);
  try {
    return JSON.parse(r.text) as T;
  } catch {
    throw new ApiError(`GET ${base}${path} answered a body that is not JSON: ${r.text.slice(0, 200)}`);
  }
}
