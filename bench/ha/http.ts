/** Small HTTP helpers of the HA benchmark: one bounded request, and a Marathon app body. */
import http from 'node:http';

/** One request with a body; resolves with the status (0 when the connection failed or timed out). */
export function send(url: string, method: string, body: unknown, timeoutMs: number, agent?: http.Agent): Promise<number> {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(url, { method, agent: agent ?? false, timeout: timeoutMs, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end(data);
  });
}

export async function getJson<T>(url: string, timeoutMs = 10_000): Promise<{ status: number; body?: T }> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    if (r.status !== 200) return { status: r.status };
    return { status: 200, body: (await r.json()) as T };
  } catch {
    return { status: 0 };
  }
}

/** An app definition with no instances: a PUT of it changes the stored app and finishes its deployment at once. */
export function writeApp(id: string, n: number): Record<string, unknown> {
  return { id, cmd: 'sleep 1000', instances: 0, cpus: 0.01, mem: 8, env: { WRITE: String(n) } };
}

/** POST /v2/apps, retried (a loaded machine); an app already there (409 after a retry) is fine. */
export async function create(marathon: string, app: Record<string, unknown>): Promise<void> {
  let st = 0;
  for (let i = 0; i < 5; i++) {
    st = await send(`${marathon}/v2/apps`, 'POST', app, 20_000);
    if (st === 201 || (i > 0 && st === 409)) return;
    if (st !== 0 && st < 500) break;
  }
  throw new Error(`could not create ${String(app.id)} on ${marathon}: HTTP ${st}`);
}
