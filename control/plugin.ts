/**
 * The control plane's plugins, in the one plugin shape (contracts/plugin.ts).
 *
 * Master: `controlMasterPlugin(opts)(host)` builds the ControlServer with the `masters` and `zones`
 * sources and follows `host.control` for every other source (before or after it starts: l4lb's
 * `vips`, the overlay's parts); the `vips` source also feeds the zones. It mounts
 * `GET /v1/control/agents` on the master API, and answers `host.control.settledVersion()` (the
 * version a write's routes name, overlay/api.ts). The gRPC server listens in `start()`.
 *
 * Agent: `controlAgentPlugin(opts)(host)` builds the ControlClient and follows `host.control` for
 * the consumers other agent plugins add; the client applies them in CONSUMER_ORDER.
 */
import type { AgentPlugin, KvStore, MasterHandle, MasterPlugin, PartSource } from '../contracts/index.js';
import { ControlClient } from './client.js';
import { controlAgentHealthCheck, controlMasterHealthCheck } from './health.js';
import type { SnapshotStore } from './engine.js';
import { chunkedSnapshotStore } from './snapshot-store.js';
import { ControlServer, DEFAULT_CONTROL_PORT } from './server.js';
import { mastersSource, type MastersSourceOptions } from './sources/masters.js';
import { zonesSource } from './sources/zones.js';
import type { TlsOptions } from './tls.js';

/** The master's durable store as the engine's snapshot store (head `control/snapshot`, chunks beside it: snapshot-store.ts). */
export function kvSnapshotStore(store: KvStore, key = 'control/snapshot'): SnapshotStore {
  return chunkedSnapshotStore(store, key);
}

export interface ControlMasterPluginOptions extends MastersSourceOptions {
  host?: string;
  /** gRPC port (default 5060). */
  port?: number;
  /** Mutual TLS (default: the master handle's `tls`); none: plaintext with a loud warning. */
  tls?: TlsOptions;
  coalesceMs?: number;
  /** Refuse watch streams from agent ids the master does not know (default true). */
  knownAgentsOnly?: boolean;
  /** How long a write's route may wait for the version carrying it (settledVersion) before answering without one (default 10 s). */
  settleTimeoutMs?: number;
}

/** The version, or undefined when it takes longer than `ms` (saves failing: the write's answer goes out without one). */
function settledWithin(p: Promise<number | undefined>, ms: number): Promise<number | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Agent ids in the master state, recomputed lazily after each change. */
function knownAgents(m: MasterHandle): (id: string) => boolean {
  let ids: Set<string> | undefined;
  m.onChange(() => (ids = undefined));
  return (id) => {
    ids ??= new Set(((m.state().slaves as { id?: string }[] | undefined) ?? []).map((s) => String(s.id)));
    if (ids.has(id)) return true;
    ids = undefined; // it may have registered a moment ago
    return false;
  };
}

export function controlMasterPlugin(opts: ControlMasterPluginOptions = {}): MasterPlugin {
  return ({ handle: m, control, metrics, log, health }) => {
    const masters = mastersSource(m, { ...opts, controlPort: opts.controlPort ?? opts.port ?? DEFAULT_CONTROL_PORT });
    let vips: PartSource<'vips'> | undefined;
    const zones = zonesSource(m, { masters, vips: () => vips });
    const server = new ControlServer({
      host: opts.host ?? m.ip,
      port: opts.port ?? DEFAULT_CONTROL_PORT,
      tls: opts.tls ?? m.tls,
      coalesceMs: opts.coalesceMs,
      registry: metrics,
      store: kvSnapshotStore(m.store),
      isKnownAgent: opts.knownAgentsOnly === false ? undefined : knownAgents(m),
      sources: [masters, zones],
      log: log.child({ master_id: m.masterId }),
    });
    control.onSource((source) => {
      server.addSource(source);
      if (source.part === 'vips') {
        vips = source as PartSource<'vips'>;
        zones.watchVips(vips);
      }
    });
    control.provideSettledVersion(() => settledWithin(server.engine.settle(), opts.settleTimeoutMs ?? 10_000));
    m.routes((r) => r.get('/v1/control/agents', () => ({ json: server.status() })));
    health?.add(controlMasterHealthCheck(server));
    return server;
  };
}

export interface ControlAgentPluginOptions {
  /** Control servers as `host:port`; default: each master's IP with `port`. */
  masters?: string[];
  /** Control port of the masters (default 5060). */
  port?: number;
  /** Mutual TLS with this agent's certificate (default: the agent handle's `tls`); none: plaintext with a loud warning. */
  tls?: TlsOptions;
}

export function controlAgentPlugin(opts: ControlAgentPluginOptions = {}): AgentPlugin {
  return ({ handle: a, control, metrics, log, health }) => {
    const port = opts.port ?? DEFAULT_CONTROL_PORT;
    const toControl = (list: string[]) => list.map((hp) => `${hp.replace(/:\d+$/, '')}:${port}`);
    let masters = opts.masters ?? toControl(a.masters);
    const client = new ControlClient({ agentId: a.agentId, masters, tls: opts.tls ?? a.tls, registry: metrics, log: log.child({ role: 'agent' }) });
    // A new leader (agents that follow the leader through ZooKeeper): watch its control plane, resuming from the held version.
    if (!opts.masters) a.onMastersChange?.((list) => client.setMasters((masters = toControl(list))));
    control.onConsumer((c) => client.addConsumer(c));
    a.routes((r) => r.get('/v1/control/state', () => ({ json: { ...client.state(), masters } })));
    health?.add(controlAgentHealthCheck(client));
    return client;
  };
}
