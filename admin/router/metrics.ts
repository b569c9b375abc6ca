/** The entry point's Prometheus metrics (names in admin/README.md). */
import { prom, type Registry } from '../../common/metrics.js';

/** What the entry point records (prom-client's metrics, or a worker's relay to them: workers.ts). */
export interface EntryMetrics {
  requests: { inc(labels: { route: string; code: string }, n?: number): void };
  upstreamSeconds: { observe(labels: { route: string }, seconds: number): void };
  refusals: { inc(labels: { reason: string }): void };
}

export function createEntryMetrics(registry: Registry): { requests: prom.Counter<'route' | 'code'>; upstreamSeconds: prom.Histogram<'route'>; refusals: prom.Counter<'reason'> } {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    requests: get('sextant_entry_requests_total', () => new prom.Counter({ name: 'sextant_entry_requests_total', help: 'Requests the entry point answered, by route and HTTP status', labelNames: ['route', 'code'] as const, registers: [registry] })),
    upstreamSeconds: get('sextant_entry_upstream_seconds', () => new prom.Histogram({
      name: 'sextant_entry_upstream_seconds', help: 'Time from forwarding a request to the upstream response headers, by route', labelNames: ['route'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
    })),
    refusals: get('sextant_entry_refusals_total', () => new prom.Counter({ name: 'sextant_entry_refusals_total', help: 'Requests the entry point refused itself, by reason (missing, malformed, expired, bad-signature, unknown-identity, forbidden, no-permission-entry, throttled, body-too-large, headers-too-large, bad-path, no-authority)', labelNames: ['reason'] as const, registers: [registry] })),
  };
}
