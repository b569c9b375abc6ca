/**
 * The composition root for the services inside the master and agent processes. The master and
 * agent CLIs call `masterServices` / `agentServices` once their core is up; this file makes the
 * process's control-plane registration object and hands every plugin its host
 * `{handle, control, metrics, log}` (contracts/plugin.ts).
 *
 * Which services run is data, chosen by environment (so `sextant up` can pass it to its children):
 *   SEXTANT_MASTER_SERVICES  default `acs,overlay,l4lb,netmetrics,mesos-dns,control,dashboard`
 *   SEXTANT_NODE_SERVICES    default `l4lb,overlay,cni,dispatcher,control` (a real node). `sextant up`
 *                            without --netns runs only `control`: its agents share one kernel.
 *   SEXTANT_CONTROL_PORT (5060), SEXTANT_MESOS_DNS_PORT (61053), SEXTANT_MESOS_DNS_HTTP_PORT (8123),
 *   SEXTANT_OVERLAY_SUBNET6 / SEXTANT_OVERLAY_PREFIX6 (network dcos dual-stack on a fresh master),
 *   SEXTANT_L4LB_DRIVER (auto|ipvs|nftables|userspace), SEXTANT_L4LB_VIP_INTERFACE (the userspace driver
 *   makes VIPs local as addresses of this interface; `sextant up --netns` sets it), SEXTANT_L4LB_METRICS
 *   (`0`: no per VIP and backend metrics, `GET /net/v1/metrics` answers 404), SEXTANT_CNI_PLUGINS (sextant|standard: which CNI
 *   plugins the agent's conflists use; standard = bridge + host-local from /usr/lib/cni),
 *   SEXTANT_ACS_TOKEN_LIFETIME_S (lifetime of the tokens the identity service issues; default 432000, 5 days),
 *   SEXTANT_CONTROL_TLS_CA / _CERT / _KEY (all three or none: PEM paths for the control plane's mutual TLS,
 *   overriding the node handle's `tls`; the certificate carries the node's spiffe identity).
 * The entry point (admin/router) is a front: it runs on every master given `--admin-port`, leader or
 * not, and asks `entryAuthority.current` (the identity service, admin/acs, once it runs in this
 * process) per request, else (a follower) the leader's identity service (admin/acs/leader-authority.ts); SEXTANT_ENTRY_* tune its limits (admin/README.md).
 * Every process also runs `diag` (first): one HealthRegistry handed to each plugin as `host.health`,
 * served as the node's units on `/system/health/v1` (and, on the master, aggregated over the agents).
 * Each plugin is loaded lazily and guarded: a network service that cannot start is logged with the
 * reason and skipped, and never takes the master's or agent's task handling down with it.
 */
import { createLogger } from '../common/log.js';
import type { Authority } from '../contracts/auth.js';
import { diagAgentPlugin, diagMasterPlugin, HealthRegistry } from '../diag/index.js';
// The store's check alone (not master/index.js): an agent process loads this file too, and would load all of master/ with it.
import { storeHealthCheck } from '../master/store-health.js';
import {
  createAgentControl,
  createMasterControl,
  type AgentHandle,
  type AgentHost,
  type Component,
  type MasterFront,
  type MasterFrontHost,
  type MasterHandle,
  type MasterHost,
  type ServiceBuilders,
  type ServiceFlags,
  type TlsOptions,
  type VipDrainRelay,
  createVipDrainRelay,
} from '../contracts/index.js';
import type { Acs } from '../admin/index.js';

/** Loads a component's module and makes its plugin from the environment and what the process shares. */
type Loader<Host, Shared = unknown> = (shared: Shared) => Promise<(host: Host) => Component>;

/**
 * What the master's services share: the command line's flags and the one identity service of the
 * process (made on first use); once it runs, the entry point checks tokens with its `authority`.
 */
interface MasterShared {
  flags: ServiceFlags;
  acs(): Promise<Acs>;
  /** The drain decisions of the network metrics aggregator, which the l4lb VIP source applies. */
  drain: VipDrainRelay;
}

function envSeconds(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}='${v}' is not a positive number of seconds`);
  return n;
}

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

/** SEXTANT_CONTROL_TLS_CA/_CERT/_KEY: the control plane's TLS files, all three or none. */
export function controlTlsFromEnv(env: NodeJS.ProcessEnv = process.env): TlsOptions | undefined {
  const names = ['SEXTANT_CONTROL_TLS_CA', 'SEXTANT_CONTROL_TLS_CERT', 'SEXTANT_CONTROL_TLS_KEY'] as const;
  const [ca, cert, key] = names.map((n) => env[n] || undefined);
  if (!ca && !cert && !key) return undefined;
  if (!ca || !cert || !key) throw new Error(`${names.join(', ')} go together: ${names.filter((n) => !env[n]).join(', ')} missing`);
  return { ca, cert, key };
}

/** SEXTANT_CNI_PLUGINS: `sextant` (default, our plugin) or `standard` (bridge + host-local from /usr/lib/cni). */
function cniPluginsChoice(): 'sextant' | 'standard' {
  const v = process.env.SEXTANT_CNI_PLUGINS ?? 'sextant';
  if (v !== 'sextant' && v !== 'standard') throw new Error(`SEXTANT_CNI_PLUGINS='${v}' must be sextant or standard`);
  return v;
}

const masterCatalog: Record<string, Loader<MasterHost, MasterShared>> = {
  acs: async (shared) => {
    const acs = await shared.acs();
    const plugin = (await import('../admin/index.js')).acsMasterPlugin({ acs });
    return (host) => {
      const c = plugin(host);
      return {
        name: c.name,
        start: async (signal) => {
          await c.start(signal);
          entryAuthority.current = acs.authority;
        },
        stop: async () => {
          if (entryAuthority.current === acs.authority) delete entryAuthority.current;
          await c.stop();
        },
      };
    };
  },
  overlay: async () => {
    const overlay = await import('../overlay/index.js');
    // SEXTANT_OVERLAY_SUBNET6 (e.g. fd01:b::/64; SEXTANT_OVERLAY_PREFIX6, default 80): network dcos
    // is dual-stack on a fresh master (`sextant up --ipv6`). An existing store keeps its networks.
    const s6 = process.env.SEXTANT_OVERLAY_SUBNET6;
    const p6 = process.env.SEXTANT_OVERLAY_PREFIX6 ? Number(process.env.SEXTANT_OVERLAY_PREFIX6) : undefined;
    return overlay.overlayMasterPlugin(s6 ? { initialNetworks: overlay.dualStackDefaultNetworks(s6, p6) } : {});
  },
  l4lb: async (shared) => (await import('../l4lb/index.js')).l4lbMasterPlugin({ drain: shared.drain }),
  netmetrics: async (shared) => (await import('../netmetrics/index.js')).netmetricsMasterPlugin({ ...shared.flags.netmetrics, relay: shared.drain }),
  'mesos-dns': async () =>
    (await import('../dns/index.js')).mesosDnsMasterPlugin({
      config: { Port: envPort('SEXTANT_MESOS_DNS_PORT', 61053), HttpPort: envPort('SEXTANT_MESOS_DNS_HTTP_PORT', 8123) },
    }),
  control: async () => {
    const tls = controlTlsFromEnv();
    return (await import('../control/index.js')).controlMasterPlugin({ port: envPort('SEXTANT_CONTROL_PORT', 5060), dnsPort: envPort('SEXTANT_MESOS_DNS_PORT', 61053), ...(tls ? { tls } : {}) });
  },
  dashboard: async () => (await import('../dashboard/index.js')).dashboardMasterPlugin(),
};

const agentCatalog: Record<string, Loader<AgentHost>> = {
  l4lb: async () => {
    const l4lb = await import('../l4lb/index.js');
    const vipInterface = process.env.SEXTANT_L4LB_VIP_INTERFACE || undefined;
    const metrics = { enabled: process.env.SEXTANT_L4LB_METRICS !== '0' };
    return l4lb.l4lbAgentPlugin({ driver: l4lb.parseDriverChoice(process.env.SEXTANT_L4LB_DRIVER ?? 'auto'), userspace: { vipInterface }, metrics });
  },
  overlay: async () => (await import('../overlay/index.js')).overlayAgentPlugin(),
  cni: async () => (await import('../cni/index.js')).cniAgentPlugin({ plugins: cniPluginsChoice() }),
  // The dispatcher's own index, not dns/index.js: that one also loads Mesos-DNS and its ZooKeeper client,
  // about 1 MB of heap in every agent, which runs neither (issue #26).
  dispatcher: async () => (await import('../dns/dispatcher/index.js')).dispatcherAgentPlugin(),
  control: async () => {
    const tls = controlTlsFromEnv();
    return (await import('../control/index.js')).controlAgentPlugin({ port: envPort('SEXTANT_CONTROL_PORT', 5060), ...(tls ? { tls } : {}) });
  },
};

/** Build one service; on failure log why and skip it. Start is guarded too. */
async function buildGuarded<H, S>(name: string, load: Loader<H, S>, host: H, shared: S): Promise<Component | undefined> {
  let inner: Component;
  try {
    inner = (await load(shared))(host);
  } catch (err) {
    log.error('service_not_started', { service: name, err });
    return undefined;
  }
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
}

function select<P>(catalog: Record<string, P>, names: string[], env: string): [string, P][] {
  return names.flatMap((n): [string, P][] => {
    const p = catalog[n];
    if (!p) log.warn('unknown_service', { env, service: n, known: Object.keys(catalog) });
    return p ? [[n, p]] : [];
  });
}

const masterSelected = select(masterCatalog, envList('SEXTANT_MASTER_SERVICES', 'acs,overlay,l4lb,netmetrics,mesos-dns,control,dashboard'), 'SEXTANT_MASTER_SERVICES');
const agentSelected = select(agentCatalog, envList('SEXTANT_NODE_SERVICES', 'l4lb,overlay,cni,dispatcher,control'), 'SEXTANT_NODE_SERVICES');

/** SEXTANT_LOG_FILE: where this process's stderr goes (`sextant up` sets it); served as the node's `process.log`. */
const logFile = () => process.env.SEXTANT_LOG_FILE || undefined;

export const masterServices: ServiceBuilders<MasterHandle> = (handle, flags = {}) => {
  const control = createMasterControl();
  const health = new HealthRegistry();
  health.add(storeHealthCheck(handle.store));
  const host = (name: string): MasterHost => ({ handle, control, metrics: handle.registry, log: createLogger(name), health });
  let acs: Promise<Acs> | undefined;
  const shared: MasterShared = {
    flags,
    drain: createVipDrainRelay(),
    acs: () =>
      (acs ??= import('../admin/index.js').then((admin) => {
        const lifetime = envSeconds('SEXTANT_ACS_TOKEN_LIFETIME_S');
        return admin.createAcs(
          { handle, metrics: handle.registry, log: createLogger('acs') },
          { ...(flags.superuser ? { superuser: flags.superuser } : {}), ...(lifetime ? { tokenLifetimeMs: lifetime * 1000 } : {}) },
        );
      })),
  };
  const diag: [string, Loader<MasterHost, MasterShared>] = ['diag', async () => diagMasterPlugin({ registry: health, logFile: logFile() })];
  return [diag, ...masterSelected].map(([name, load]) => () => buildGuarded(name, load, host(name), shared));
};

export const agentServices: ServiceBuilders<AgentHandle> = (handle) => {
  // Each consumer's apply is reported to the agent (its memory release waits for quiet).
  const control = createAgentControl(handle.applyingUpdate ? () => handle.applyingUpdate!() : undefined);
  const health = new HealthRegistry();
  const host = (name: string): AgentHost => ({ handle, control, metrics: handle.registry, log: createLogger(name), health });
  const diag: [string, Loader<AgentHost>] = ['diag', async () => diagAgentPlugin({ registry: health, logFile: logFile() })];
  return [diag, ...agentSelected].map(([name, load]) => () => buildGuarded(name, load, host(name), undefined));
};

/** The identity service the entry point authenticates and authorizes with; undefined: it refuses (503) what needs a token. */
export const entryAuthority: { current?: Authority } = {};

/**
 * The entry point of a master. `askLeader` (a master of several, `--zk`): where the identity service
 * does not run in this process (a follower: services run on the leader only), the leader's answers.
 * A single master without it refuses (503) what needs a token, as before its identity service runs.
 */
export function makeMasterFront(o: { askLeader: boolean }): MasterFront {
  return (host) => frontOf(host, o.askLeader);
}

export const masterFront: MasterFront = makeMasterFront({ askLeader: false });

function frontOf(host: MasterFrontHost, askLeader: boolean): Component | undefined {
  if (host.admin.port === undefined) return undefined;
  let inner: Component | undefined;
  return {
    name: 'entry',
    start: async (signal) => {
      const admin = await import('../admin/index.js');
      const viaLeader = askLeader && masterSelected.some(([name]) => name === 'acs') ? new admin.LeaderAuthority({ ip: host.ip, port: host.port, ...(host.tls ? { tls: host.tls } : {}) }) : undefined;
      inner = admin.entryPlugin({
        authority: () => entryAuthority.current ?? viaLeader,
        mesosDnsPort: envPort('SEXTANT_MESOS_DNS_HTTP_PORT', 8123),
        limits: admin.entryLimitsFromEnv(),
      })(host);
      await inner?.start(signal);
    },
    stop: async () => {
      await inner?.stop();
    },
  };
}

/** The modules of the selected master services, for preloadMasterServices(). */
const masterModules: Record<string, () => Promise<unknown>> = {
  overlay: () => import('../overlay/index.js'),
  l4lb: () => import('../l4lb/index.js'),
  netmetrics: () => import('../netmetrics/index.js'),
  'mesos-dns': () => import('../dns/index.js'),
  control: () => import('../control/index.js'),
  // The identity service and the dashboard are the heaviest to compile (jose, the entry point,
  // the bundle's server side): a follower that takes over without them loaded spends seconds of
  // CPU on a busy machine while its ZooKeeper session must stay alive.
  acs: () => import('../admin/index.js'),
  dashboard: () => import('../dashboard/index.js'),
};

/**
 * Load (compile) the selected master services' modules without starting anything: a master that
 * waits as a follower does it, so taking over as leader does not stall its event loop (and its
 * ZooKeeper session) for seconds on a busy machine.
 */
export async function preloadMasterServices(): Promise<void> {
  for (const [name] of masterSelected) await masterModules[name]?.().catch((err: unknown) => log.warn('service_preload_failed', { service: name, err }));
}
