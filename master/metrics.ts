/** The master's Prometheus metrics (`sextant_master_*`), on the registry passed in. */
import { prom, type Registry } from '../common/index.js';
import type { Cluster } from './cluster.js';
import type { MarathonScheduler } from './marathon/scheduler.js';

export interface MasterMetrics {
  offers: prom.Counter;
  declines: prom.Counter;
  launches: prom.Counter;
  statusUpdates: prom.Counter<'state'>;
  storeWrites: prom.Counter;
  storeWriteSeconds: prom.Histogram;
  agentProtocolRefused: prom.Counter<'reason'>;
  statusDropped: prom.Counter<'reason'>;
  agentCallbacks: prom.Counter<'result'>;
  tlsRefused: prom.Counter<'reason'>;
}

export function createMasterMetrics(r: Registry, cluster: Cluster, marathon: MarathonScheduler): MasterMetrics {
  new prom.Gauge({
    name: 'sextant_master_agents',
    help: 'Registered agents by state',
    labelNames: ['state'],
    registers: [r],
    collect() {
      let active = 0;
      let pending = 0;
      for (const a of cluster.agents.values()) if (a.active && a.pending) pending++;
      else if (a.active) active++;
      this.set({ state: 'active' }, active);
      this.set({ state: 'pending' }, pending);
      this.set({ state: 'unreachable' }, cluster.agents.size - active - pending);
    },
  });
  new prom.Gauge({
    name: 'sextant_master_tasks',
    help: 'Live tasks by state',
    labelNames: ['state'],
    registers: [r],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const t of cluster.tasks.values()) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
      for (const [s, n] of counts) this.set({ state: s }, n);
    },
  });
  new prom.Gauge({
    name: 'sextant_master_apps',
    help: 'Marathon apps',
    registers: [r],
    collect() {
      this.set(marathon.apps.size);
    },
  });
  new prom.Gauge({
    name: 'sextant_master_deployments',
    help: 'Marathon deployments in progress',
    registers: [r],
    collect() {
      this.set(marathon.deploymentList().length);
    },
  });
  return {
    offers: new prom.Counter({ name: 'sextant_master_offers_total', help: 'Resource offers made to frameworks', registers: [r] }),
    declines: new prom.Counter({ name: 'sextant_master_offers_declined_total', help: 'Offers declined by frameworks', registers: [r] }),
    launches: new prom.Counter({ name: 'sextant_master_task_launches_total', help: 'Tasks launched from accepted offers', registers: [r] }),
    statusUpdates: new prom.Counter({ name: 'sextant_master_status_updates_total', help: 'Task status updates applied, by new state', labelNames: ['state'], registers: [r] }),
    storeWrites: new prom.Counter({ name: 'sextant_master_store_writes_total', help: 'Durable store writes', registers: [r] }),
    agentProtocolRefused: new prom.Counter({ name: 'sextant_master_agent_protocol_refused_total', help: 'Agent protocol calls refused (credentials, another agent\'s task), by reason', labelNames: ['reason'], registers: [r] }),
    agentCallbacks: new prom.Counter({ name: 'sextant_master_agent_callbacks_total', help: 'Registration callbacks (ping of a pending agent on its advertised address), by result (verified|failed)', labelNames: ['result'], registers: [r] }),
    statusDropped: new prom.Counter({ name: 'sextant_master_status_updates_dropped_total', help: 'Status updates dropped, by reason (stale: seq not above the last applied)', labelNames: ['reason'], registers: [r] }),
    tlsRefused: new prom.Counter({ name: 'sextant_master_tls_refused_total', help: 'Requests refused for want of a verified client certificate of the cluster CA (mutual TLS), by reason (no_client_certificate|no_identity)', labelNames: ['reason'], registers: [r] }),
    storeWriteSeconds: new prom.Histogram({ name: 'sextant_master_store_write_seconds', help: 'Time for one durable store write (write+fsync+rename)', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5], registers: [r] }),
  };
}
