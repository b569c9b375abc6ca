/** The control plane's Prometheus metrics (`sextant_control_*`), on a registry passed in. */
import { prom, type Registry } from '../common/metrics.js';

export interface ServerMetrics {
  version: prom.Gauge;
  pushDuration: prom.Histogram;
  convergence: prom.Histogram;
  streams: prom.Gauge;
  nacks: prom.Counter;
  bytesSent: prom.Counter;
  updatesSent: prom.Counter<'kind'>;
  rejected: prom.Counter<'reason'>;
  refused: prom.Counter<'reason'>;
  agentLag: prom.Gauge<'agent_id'>;
}

export function serverMetrics(registry: Registry, lag: () => [string, number][]): ServerMetrics {
  return {
    version: new prom.Gauge({ name: 'sextant_control_snapshot_version', help: 'Current snapshot version', registers: [registry] }),
    pushDuration: new prom.Histogram({
      name: 'sextant_control_push_duration_seconds',
      help: 'Time to hand a new version to every connected stream',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    }),
    convergence: new prom.Histogram({
      name: 'sextant_control_ack_latency_seconds',
      help: 'Time from a version being created to an agent ACKing it',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    streams: new prom.Gauge({ name: 'sextant_control_streams', help: 'Connected agent watch streams', registers: [registry] }),
    nacks: new prom.Counter({ name: 'sextant_control_nacks_total', help: 'Versions NACKed by agents', registers: [registry] }),
    bytesSent: new prom.Counter({ name: 'sextant_control_sent_bytes_total', help: 'Update bytes written to agent streams', registers: [registry] }),
    updatesSent: new prom.Counter({ name: 'sextant_control_updates_sent_total', help: 'Updates written to agent streams', labelNames: ['kind'], registers: [registry] }),
    rejected: new prom.Counter({ name: 'sextant_control_rejected_streams_total', help: 'Watch streams refused (bad message, unknown agent)', labelNames: ['reason'], registers: [registry] }),
    refused: new prom.Counter({
      name: 'sextant_control_refused_total',
      help: 'Connections and watch streams refused by mutual TLS: failed handshakes (tls_handshake_plaintext, tls_handshake_no_certificate, tls_handshake_unknown_ca, tls_handshake_other) and identity (no_certificate, no_identity, not_agent, identity_mismatch)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    agentLag: new prom.Gauge({
      name: 'sextant_control_agent_lag_versions',
      help: 'Versions between the current snapshot and what each agent last applied',
      labelNames: ['agent_id'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [id, l] of lag()) this.set({ agent_id: id }, l);
      },
    }),
  };
}

export interface ClientMetrics {
  applied: prom.Gauge;
  applyDuration: prom.Histogram;
  updateCpu: prom.Histogram;
  reconnects: prom.Counter;
  nacks: prom.Counter;
  connected: prom.Gauge;
}

export function clientMetrics(registry: Registry): ClientMetrics {
  return {
    applied: new prom.Gauge({ name: 'sextant_control_client_applied_version', help: 'Last version applied by this agent', registers: [registry] }),
    applyDuration: new prom.Histogram({
      name: 'sextant_control_client_apply_duration_seconds',
      help: 'Time for all consumers to apply one version',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    updateCpu: new prom.Histogram({
      name: 'sextant_control_client_update_cpu_seconds',
      help: "CPU time of the agent's process (all threads) while it folded one update into its view and applied the view to the consumers",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    reconnects: new prom.Counter({ name: 'sextant_control_client_reconnects_total', help: 'Watch stream (re)connection attempts', registers: [registry] }),
    nacks: new prom.Counter({ name: 'sextant_control_client_nacks_total', help: 'Versions this agent failed to apply', registers: [registry] }),
    connected: new prom.Gauge({ name: 'sextant_control_client_connected', help: '1 while the watch stream is up', registers: [registry] }),
  };
}
