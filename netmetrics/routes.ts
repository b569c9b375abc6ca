/** The aggregator's routes on the master's Mesos port (the entry point maps `/net/v1/vips...` here unchanged). */
import type { Router } from '../common/http.js';
import type { Clock } from '../common/clock.js';
import type { NetMetricsAggregator } from './aggregator.js';
import { backendUsesView, vipsView, vipView } from './views.js';

export function mountRoutes(r: Router, a: NetMetricsAggregator, clock: Clock): void {
  r.get('/net/v1/vips', () => ({ json: vipsView(a, clock.now()) }), { summary: 'every VIP: connections, failures, bytes, success rate over the last minute and hour, per node' });
  r.get('/net/v1/vips/*vip', (req) => ({ json: vipView(a, req.params.vip!, clock.now()) }), {
    summary: "one VIP (IP:PORT/PROTO, IP:PORT, or its name): backends with success rate, p50/p99 connect latency, failing nodes, unhealthy and drained",
  });
  r.get('/net/v1/backends/:backend', (req) => ({ json: backendUsesView(a, req.params.backend!, clock.now()) }), { summary: 'every VIP that uses a backend (IP:PORT), with per-node figures' });
}
