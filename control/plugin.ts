/**
 * Wiring into the master and agent processes (cli/plugins.ts).
 *
 * Master: `controlMasterPlugin(opts)` starts the ControlServer with the `masters` and `zones`
 * sources and every source given to `registerPartSource` (before or after it starts: l4lb's
 * `vips`, the overlay's parts), and mounts `GET /v1/control/agents` on the master API.
 *
 * Agent: `controlAgentPlugin(opts)` starts the ControlClient; other agent plugins hand it their
 * consumers with `registerConsumer` (alias `registerSnapshotConsumer`). Registrations go to the
 * client created most recently in this process (plugins of one agent run one after another), or
 * wait for the next one when none exists yet.
 */
import type { AgentHandle, AgentPlugin, MasterPlugin } from '../cli/plugins.js';
import { createLogger } from '../common/log.js';
import type { KvStore, MasterHandle } from '../master/protocol.js';
import { ControlClient } from './client.js';
import type { PersistedSnapshot, SnapshotStore } from './engine.js';
import { ControlServer, DEFAULT_CONTROL_PORT } from './server.js';
import { mastersSource, type MastersSourceOptions } from './sources/masters.js';
import { zonesSource } from './sources/zones.js';
import type { TlsOptions } from './tls.js';
import type { PartSource, SnapshotConsumer } from './types.js';

const pendingSources: PartSource[] = [];
const pendingConsumers: SnapshotConsumer[] = [];
let currentServer: { server: ControlServer; watchVips(s: PartSource<'vips'>): void } | undefined;
let currentClient: ControlClient | undefined;

/** Add a snapshot part source on the master (one per part). */
export function registerPartSource(source: PartSource): void {
  if (!currentServer) {
    pendingSources.push(source);
    return;
  }
  currentServer.server.addSource(source);
  if (source.part === 'vips') currentServer.watchVips(source as PartSource<'vips'>);
}

/** Add a consumer on the agent; consumers apply in CONSUMER_ORDER (l4lb, overlay, dispatcher). */
export function registerConsumer(consumer: SnapshotConsumer): void {
  if (currentClient) currentClient.addConsumer(consumer);
  else pendingConsumers.push(consumer);
}
export const registerSnapshotConsumer = registerConsumer;

/** The master's durable store as the engine's snapshot store (key `control/snapshot`). */
export function kvSnapshotStore(store: KvStore, key = 'control/snapshot'): SnapshotStore {
  return {
    load: () => store.get<PersistedSnapshot>(key),
    save: (s) => store.put(key, s),
  };
}

export interface ControlMasterPluginOptions extends MastersSourceOptions {
  host?: string;
  /** gRPC port (default 5060). */
  port?: number;
  tls?: TlsOptions;
  coalesceMs?: number;
  /** Refuse watch streams from agent ids the master does not know (default true). */
  knownAgentsOnly?: boolean;
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
  return async (m) => {
    const masters = mastersSource(m, { ...opts, controlPort: opts.controlPort ?? opts.port ?? DEFAULT_CONTROL_PORT });
    let vips: PartSource<'vips'> | undefined;
    const zones = zonesSource(m, { masters, vips: () => vips });
    const server = new ControlServer({
      host: opts.host ?? m.ip,
      port: opts.port ?? DEFAULT_CONTROL_PORT,
      tls: opts.tls,
      coalesceMs: opts.coalesceMs,
      registry: m.registry,
      store: kvSnapshotStore(m.store),
      isKnownAgent: opts.knownAgentsOnly === false ? undefined : knownAgents(m),
      sources: [masters, zones],
      log: createLogger('control', { master_id: m.masterId }),
    });
    currentServer = {
      server,
      watchVips: (s) => {
        vips = s;
        zones.watchVips(s);
      },
    };
    for (const s of pendingSources.splice(0)) registerPartSource(s);
    m.routes((r) => r.get('/v1/control/agents', () => ({ json: server.status() })));
    return server;
  };
}

export interface ControlAgentPluginOptions {
  /** Control servers as `host:port`; default: each master's IP with `port`. */
  masters?: string[];
  /** Control port of the masters (default 5060). */
  port?: number;
  tls?: TlsOptions;
}

export function controlAgentPlugin(opts: ControlAgentPluginOptions = {}): AgentPlugin {
  return async (a: AgentHandle) => {
    const port = opts.port ?? DEFAULT_CONTROL_PORT;
    const masters = opts.masters ?? a.masters.map((hp) => `${hp.replace(/:\d+$/, '')}:${port}`);
    const client = new ControlClient({
      agentId: a.agentId,
      masters,
      tls: opts.tls,
      consumers: pendingConsumers.splice(0),
      registry: a.registry,
      log: createLogger('control', { role: 'agent' }),
    });
    currentClient = client;
    a.routes((r) => r.get('/v1/control/state', () => ({ json: { ...client.state(), masters } })));
    return client;
  };
}
