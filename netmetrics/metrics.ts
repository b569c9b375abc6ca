/** Prometheus metrics of the aggregator itself (the per-VIP figures are the API's, not series here). */
import { prom, type Registry } from '../common/metrics.js';
import type { NetMetricsAggregator } from './aggregator.js';

export function netmetricsMetrics(registry: Registry, a: () => NetMetricsAggregator | undefined): { polled(ms: number, failed: number): void } {
  const polls = new prom.Counter({ name: 'sextant_netmetrics_polls_total', help: 'Rounds of GET /net/v1/metrics over the agents', registers: [registry] });
  const failures = new prom.Counter({ name: 'sextant_netmetrics_agent_failures_total', help: 'Agent answers that could not be taken (no answer, not NodeNetMetrics)', registers: [registry] });
  const seconds = new prom.Histogram({ name: 'sextant_netmetrics_poll_seconds', help: 'Duration of one round', buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5], registers: [registry] });
  new prom.Gauge({
    name: 'sextant_netmetrics_series',
    help: 'Series (VIP, backend, node) held in the windows',
    registers: [registry],
    collect() {
      this.set(a()?.store.seriesCount ?? 0);
    },
  });
  new prom.Gauge({
    name: 'sextant_netmetrics_series_dropped',
    help: 'Series not kept because the series limit was reached',
    registers: [registry],
    collect() {
      this.set(a()?.store.dropped ?? 0);
    },
  });
  new prom.Gauge({
    name: 'sextant_netmetrics_unhealthy_backends',
    help: 'Backends (per VIP) over the failure threshold',
    registers: [registry],
    collect() {
      this.set(a()?.judge.unhealthyKeys().length ?? 0);
    },
  });
  return {
    polled(ms, failed) {
      polls.inc();
      failures.inc(failed);
      seconds.observe(ms / 1000);
    },
  };
}
