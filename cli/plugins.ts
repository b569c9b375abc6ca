/**
 * Where the components that live inside the master and agent processes are wired in. The master
 * and agent CLIs call these after their core is up; each entry attaches one component.
 *
 * Which services run is data, chosen by environment (so `sextant up` can pass it to its children):
 *   SEXTANT_MASTER_SERVICES  default `overlay,l4lb,mesos-dns,control`
 *   SEXTANT_NODE_SERVICES    default `l4lb,overlay,cni,dispatcher,control` (a real node). `sextant up`
 *                            without --netns runs only `control`: its agents share one kernel.
 *   SEXTANT_CONTROL_PORT (5060), SEXTANT_MESOS_DNS_PORT (61053), SEXTANT_MESOS_DNS_HTTP_PORT (8123),
 *   SEXTANT_L4LB_DRIVER (auto|ipvs|nftables|userspace), SEXTANT_CNI_PLUGINS (sextant|standard: which CNI
 *   plugins the agent's conflists use; standard = bridge + host-local from /usr/lib/cni).
 * Each plugin is loaded lazily and guarded: a network service that cannot start is logged with the
 * reason and skipped, and never takes the master's or agent's task handling down with it.
 */
import type { MasterHandle } from '../master/protocol.js';
import type { Component } from '../common/daemon.js';
import { createLogger } from '../common/log.js';

export type MasterPlugin = (m: MasterHandle) => Promise<Component | undefined>;

export interface AgentHandle {
  readonly agentId: string;
  readonly ip: string;
  readonly workDir: string;
  /** `ip:port` of the masters' Mesos API. */
  readonly masters: string[];
  readonly registry: import('../common/metrics.js').Registry;
  /** Mount extra HTTP routes on the agent's :5051 API (e.g. `/v1/vips`). */
  routes(register: (router: import('../common/http.js').Router) => void): void;
  /** Give the agent its NetworkAttacher (the CNI plugin does). */
  setNetworkAttacher?(a: import('../agent/network.js').NetworkAttacher | undefined): void;
  /** Where tasks on virtual networks resolve names (the dispatcher plugin sets its addresses). */
  setNameservers?(ns: string[]): void;
}
export type AgentPlugin = (a: AgentHandle) => Promise<Component | undefined>;

const log = createLogger('plugins');

function envList(name: string, fallback: string): string[] {
  return (process.env[name] ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function envPort(name: string, fallback: number): number {
  const v = process.env[name];
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name}='${v}' is not a port`);
  return n;
}

/** Run a plugin; on failure log why and skip it. Start is guarded too. */
function guarded<H>(name: string, load: () => Promise<(h: H) => Promise<Component | undefined>>): (h: H) => Promise<Component | undefined> {
  return async (h) => {
    let c: Component | undefined;
    try {
      c = await (await load())(h);
    } catch (err) {
      log.error('service_not_started', { service: name, err });
      return undefined;
    }
    if (!c) return undefined;
    const inner = c;
    let started = false;
    return {
      name: inner.name,
      start: async (signal) => {
        try {
          await inner.start(signal);
          started = true;
        } catch (err) {
          log.error('service_not_started', { service: name, err });
        }
      },
      stop: async () => {
        if (started) await inner.stop();
      },
    };
  };
}

const masterCatalog: Record<string, MasterPlugin> = {
  overlay: guarded('overlay', async () => (await import('../overlay/index.js')).overlayMasterPlugin()),
  l4lb: guarded('l4lb', async () => {
    const { vipSource } = await import('../l4lb/index.js');
    const { registerPartSource } = await import('../control/index.js');
    return async (m: MasterHandle) => {
      registerPartSource(vipSource(m) as never);
      return undefined;
    };
  }),
  'mesos-dns': guarded('mesos-dns', async () =>
    (await import('../dns/index.js')).mesosDnsMasterPlugin({
      config: { Port: envPort('SEXTANT_MESOS_DNS_PORT', 61053), HttpPort: envPort('SEXTANT_MESOS_DNS_HTTP_PORT', 8123) },
    }),
  ),
  control: guarded('control', async () => (await import('../control/index.js')).controlMasterPlugin({ port: envPort('SEXTANT_CONTROL_PORT', 5060) })),
};

const agentCatalog: Record<string, AgentPlugin> = {
  l4lb: guarded('l4lb', async () => {
    const l4lb = await import('../l4lb/index.js');
    const { registerConsumer } = await import('../control/index.js');
    return l4lb.l4lbAgentPlugin({ driver: l4lb.parseDriverChoice(process.env.SEXTANT_L4LB_DRIVER ?? 'auto'), register: registerConsumer });
  }),
  overlay: guarded('overlay', async () => (await import('../overlay/index.js')).overlayAgentPlugin()),
  cni: guarded('cni', async () => (await import('../cni/index.js')).cniAgentPlugin({ plugins: cniPluginsChoice() })),
  dispatcher: guarded('dispatcher', async () => {
    const { dispatcherAgentPlugin } = await import('../dns/index.js');
    const { registerConsumer } = await import('../control/index.js');
    // The dispatcher plugin starts its server itself; the returned component must not start it twice.
    return async (a: AgentHandle) => {
      const plugin = dispatcherAgentPlugin({
        onStarted: (d) => {
          registerConsumer(d.snapshotConsumer());
          // resolv.conf has no port: only a dispatcher on :53 can serve the tasks' lookups.
          const ns = [...new Set(d.addresses().filter((b) => b.transport === 'udp' && b.port === 53).map((b) => b.host))];
          if (ns.length) a.setNameservers?.(ns);
        },
      });
      const d = await plugin(a);
      return d && { name: d.name, start: async () => {}, stop: () => d.stop() };
    };
  }),
  control: guarded('control', async () => (await import('../control/index.js')).controlAgentPlugin({ port: envPort('SEXTANT_CONTROL_PORT', 5060) })),
};

/** SEXTANT_CNI_PLUGINS: `sextant` (default, our plugin) or `standard` (bridge + host-local from /usr/lib/cni). */
function cniPluginsChoice(): 'sextant' | 'standard' {
  const v = process.env.SEXTANT_CNI_PLUGINS ?? 'sextant';
  if (v !== 'sextant' && v !== 'standard') throw new Error(`SEXTANT_CNI_PLUGINS='${v}' must be sextant or standard`);
  return v;
}

function select<P>(catalog: Record<string, P>, names: string[], env: string): P[] {
  return names.flatMap((n) => {
    const p = catalog[n];
    if (!p) log.warn('unknown_service', { env, service: n, known: Object.keys(catalog) });
    return p ? [p] : [];
  });
}

export const masterPlugins: MasterPlugin[] = select(masterCatalog, envList('SEXTANT_MASTER_SERVICES', 'overlay,l4lb,mesos-dns,control'), 'SEXTANT_MASTER_SERVICES');
export const agentPlugins: AgentPlugin[] = select(agentCatalog, envList('SEXTANT_NODE_SERVICES', 'l4lb,overlay,cni,dispatcher,control'), 'SEXTANT_NODE_SERVICES');
