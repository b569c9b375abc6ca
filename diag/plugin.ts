/**
 * Diagnostics in the one plugin shape (contracts/plugin.ts). The composition root makes one
 * HealthRegistry per process, hands it to every plugin as `host.health` (where they register their
 * checks) and to these plugins, which serve it. Agent: the node routes on the agent API. Master:
 * the node routes and the aggregate on the Mesos API port, polling the agents of its state.
 */
import type { Component } from '../common/daemon.js';
import type { AgentPlugin, MasterPlugin } from '../contracts/index.js';
import { HealthAggregator, targetsFromState, tlsJsonGetter, type AggregatorOptions } from './aggregate.js';
import type { HealthRegistry } from './registry.js';
import { mountMasterRoutes, mountNodeRoutes } from './routes.js';

export interface DiagPluginOptions {
  registry: HealthRegistry;
  /** The file this process's stderr goes to (SEXTANT_LOG_FILE), served as `process.log`. */
  logFile?: string;
  checkTimeoutMs?: number;
}

const idle = (name: string): Component => ({ name, start: async () => {}, stop: async () => {} });

export function diagAgentPlugin(opts: DiagPluginOptions): AgentPlugin {
  return ({ handle: a }) => {
    const info = () => ({ ip: a.ip, hostname: a.hostname ?? a.ip, role: 'agent' as const, mesosId: a.agentId });
    a.routes((r) => mountNodeRoutes(r, { registry: opts.registry, info, logs: { workDir: a.workDir, logFile: opts.logFile }, checkTimeoutMs: opts.checkTimeoutMs }));
    return idle('diag');
  };
}

export type DiagMasterPluginOptions = DiagPluginOptions & Pick<AggregatorOptions, 'concurrency' | 'timeoutMs' | 'cacheMs'>;

export function diagMasterPlugin(opts: DiagMasterPluginOptions): MasterPlugin {
  return ({ handle: m }) => {
    const hostname = m.hostname ?? m.ip;
    const info = () => ({ ip: m.ip, hostname, role: 'master' as const, mesosId: m.masterId });
    const targets = () => targetsFromState(m.state(), { ip: m.ip, hostname, masterId: m.masterId }, m.tls !== undefined);
    const get = m.tls ? tlsJsonGetter(m.tls) : undefined;
    const aggregator = new HealthAggregator({
      targets,
      ...(get ? { get } : {}),
      local: () => opts.registry.run(opts.checkTimeoutMs),
      concurrency: opts.concurrency,
      timeoutMs: opts.timeoutMs,
      cacheMs: opts.cacheMs,
    });
    m.routes((r) => mountMasterRoutes(r, { registry: opts.registry, info, logs: { workDir: m.workDir, logFile: opts.logFile }, checkTimeoutMs: opts.checkTimeoutMs, aggregator, targets, ...(get ? { get } : {}) }));
    return idle('diag');
  };
}
