/**
 * Prometheus metrics. Every daemon owns one Registry (so several daemons can share a process in
 * tests and in `sextant up`) and serves it on GET /metrics. Names are `sextant_<component>_...`.
 */
import client from 'prom-client';

export { client as prom };
export type Registry = client.Registry;

export function createRegistry(labels: Record<string, string> = {}): client.Registry {
  const r = new client.Registry();
  r.setDefaultLabels(labels);
  return r;
}

/** Process metrics (RSS, CPU, event loop lag) once per process, on the given registry. */
export function collectProcessMetrics(r: client.Registry): void {
  client.collectDefaultMetrics({ register: r, prefix: 'sextant_process_' });
}

export async function renderMetrics(r: client.Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: r.contentType, body: await r.metrics() };
}
