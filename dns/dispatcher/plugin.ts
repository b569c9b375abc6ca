/**
 * The dispatcher inside `sextant agent`, in the one plugin shape (contracts/plugin.ts). Mesos-DNS
 * resolvers come from the agent's master list (`ip:61053`); the control-plane snapshot refines them
 * and feeds the local zones. Listening defaults to the agent's IP (and its IPv6 address on a dual-stack node, `--ip6`) on port 53 (never creating
 * interfaces in the host namespace unless asked); a config file in the work dir or `opts.config`
 * overrides. Building does nothing; `start()` reads the config, starts the servers, then hands the
 * snapshot consumer to `host.control` and points tasks' resolv.conf at the dispatcher. A
 * dispatcher that cannot start is logged and skipped: the agent keeps running.
 */
import { parseEndpoint } from './endpoint.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile } from '../../common/config.js';
import type { Component } from '../../common/daemon.js';
import type { AgentHandle, AgentHost } from '../../contracts/index.js';
import { parseDispatcherConfig, MESOS_DNS_PORT } from './config.js';
import { Dispatcher } from './dispatcher.js';
import { dispatcherHealthCheck } from './ready-check.js';

export interface DispatcherPluginOptions {
  /** Raw config (same keys as the config file); defaults filled from the agent. */
  config?: Record<string, unknown>;
}

/** The plugin's component; `dispatcher` is set once started (undefined when it could not start). */
export interface DispatcherComponent extends Component {
  readonly dispatcher: Dispatcher | undefined;
}

export function agentDispatcherConfig(a: AgentHandle, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const file = join(a.workDir, 'dispatcher.json');
  const fromFile = existsSync(file) ? (loadConfigFile(file) as Record<string, unknown>) : {};
  return {
    mesos_resolvers: a.masters.map((m) => `${m.slice(0, m.lastIndexOf(':')) || m}:${MESOS_DNS_PORT}`),
    bind_ips: a.ip6 ? [a.ip, a.ip6] : [a.ip],
    ...fromFile,
    ...overrides,
  };
}

/** The address of an `ip:port` master (`[ip6]:port` too); undefined for none or a bad one. */
function hostOf(master: string | undefined): string | undefined {
  const e = master ? parseEndpoint(master, 5050) : undefined;
  return typeof e === 'object' ? e.host : undefined;
}

export function dispatcherAgentPlugin(opts: DispatcherPluginOptions = {}): (host: AgentHost) => DispatcherComponent {
  return ({ handle: a, control, metrics, log: base, health }) => {
    const log = base.child({ agent_id: a.agentId });
    let dispatcher: Dispatcher | undefined;
    let startError: string | undefined;
    let stopFollowing: (() => void) | undefined;
    health?.add(dispatcherHealthCheck(() => ({ dispatcher, startError })));
    return {
      name: 'dispatcher',
      get dispatcher() {
        return dispatcher;
      },
      async start() {
        let d: Dispatcher;
        try {
          d = new Dispatcher(parseDispatcherConfig(agentDispatcherConfig(a, opts.config)), { registry: metrics, log });
          await d.start();
        } catch (err) {
          startError = (err as Error).message;
          log.error('dispatcher_not_started', { err, hint: 'port 53 needs root or CAP_NET_BIND_SERVICE; set udp_port/tcp_port in <work-dir>/dispatcher.json' });
          return;
        }
        dispatcher = d;
        // With `--master zk://...` the agent follows the elected master: its Mesos-DNS is asked too
        // (issue 25: the control plane's list alone can name only a master that does not lead).
        if (a.onMastersChange) {
          d.setMesosLeader(hostOf(a.masters[0]));
          stopFollowing = a.onMastersChange((list) => dispatcher?.setMesosLeader(hostOf(list[0])));
        }
        control.addConsumer(d.snapshotConsumer());
        // resolv.conf has no port: only a dispatcher on :53 can serve the tasks' lookups.
        const ns = [...new Set(d.addresses().filter((b) => b.transport === 'udp' && b.port === 53).map((b) => b.host))];
        if (ns.length) a.setNameservers?.(ns);
      },
      async stop() {
        stopFollowing?.();
        stopFollowing = undefined;
        await dispatcher?.stop();
        dispatcher = undefined;
      },
    };
  };
}
