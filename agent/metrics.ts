/** The agent's Prometheus metrics (`sextant_agent_*`) on the registry it is given. */
import { prom, type Registry } from '../common/metrics.js';

export class AgentMetrics {
  readonly tasks: prom.Gauge<'state'>;
  readonly launches: prom.Counter;
  readonly statusUpdates: prom.Counter<'state'>;
  readonly statusPending: prom.Gauge;
  readonly registrations: prom.Counter<'kind'>;
  readonly heartbeats: prom.Counter<'result'>;
  readonly healthChecks: prom.Counter<'result'>;

  constructor(registry: Registry, collectTasks: () => Record<string, number>, pending: () => number) {
    this.tasks = new prom.Gauge({
      name: 'sextant_agent_tasks',
      help: 'Tasks on this agent by state',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(collectTasks())) this.set({ state }, n);
      },
    });
    this.launches = new prom.Counter({ name: 'sextant_agent_task_launches_total', help: 'Tasks launched', registers: [registry] });
    this.statusUpdates = new prom.Counter({ name: 'sextant_agent_status_updates_total', help: 'Status updates acknowledged by the master', labelNames: ['state'], registers: [registry] });
    this.statusPending = new prom.Gauge({
      name: 'sextant_agent_status_updates_pending',
      help: 'Status updates not yet acknowledged',
      registers: [registry],
      collect() {
        this.set(pending());
      },
    });
    this.registrations = new prom.Counter({ name: 'sextant_agent_registrations_total', help: 'Registrations with a master', labelNames: ['kind'], registers: [registry] });
    this.heartbeats = new prom.Counter({ name: 'sextant_agent_heartbeats_total', help: 'Heartbeats sent', labelNames: ['result'], registers: [registry] });
    this.healthChecks = new prom.Counter({ name: 'sextant_agent_health_checks_total', help: 'Health check results', labelNames: ['result'], registers: [registry] });
  }
}
