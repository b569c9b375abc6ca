/**
 * Starts the dispatcher inside `sextant agent`. Mesos-DNS resolvers come from the agent's master
 * list (`ip:61053`); the control-plane snapshot (via `snapshotConsumer()`) refines them and feeds
 * the local zones. Listening defaults to the agent's IP on port 53 (never creating interfaces in
 * the host namespace unless asked); a config file in the work dir or `opts.config` overrides.
 * A dispatcher that cannot start is logged and skipped: the agent keeps running.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentHandle, AgentPlugin } from '../../cli/plugins.js';
import { loadConfigFile } from '../../common/config.js';
import { createLogger } from '../../common/log.js';
import { parseDispatcherConfig, MESOS_DNS_PORT } from './config.js';
import { Dispatcher } from './dispatcher.js';

export interface DispatcherPluginOptions {
  /** Raw config (same keys as the config file); defaults filled from the agent. */
  config?: Record<string, unknown>;
  /** Called with the dispatcher once started (e.g. to register its snapshot consumer). */
  onStarted?(d: Dispatcher): void;
}

export function agentDispatcherConfig(a: AgentHandle, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const file = join(a.workDir, 'dispatcher.json');
  const fromFile = existsSync(file) ? (loadConfigFile(file) as Record<string, unknown>) : {};
  return {
    mesos_resolvers: a.masters.map((m) => `${m.slice(0, m.lastIndexOf(':')) || m}:${MESOS_DNS_PORT}`),
    bind_ips: [a.ip],
    ...fromFile,
    ...overrides,
  };
}

export function dispatcherAgentPlugin(opts: DispatcherPluginOptions = {}): AgentPlugin {
  return async (a) => {
    const log = createLogger('dispatcher', { agent_id: a.agentId });
    try {
      const d = new Dispatcher(parseDispatcherConfig(agentDispatcherConfig(a, opts.config)), { registry: a.registry, log });
      await d.start();
      opts.onStarted?.(d);
      return d;
    } catch (err) {
      log.error('dispatcher_not_started', { err, hint: 'port 53 needs root or CAP_NET_BIND_SERVICE; set udp_port/tcp_port in <work-dir>/dispatcher.json' });
      return undefined;
    }
  };
}
