/**
 * The overlay inside the master process: loads the allocator, follows the master's agents (new
 * agents get a share; agents the master has forgotten -- unreachable or removed past its release
 * grace period -- lose it, also when that happened while this master was down), mounts the admin
 * API and exposes the snapshot parts as PartSources. With a master handle that cannot say which
 * agents it knows (test doubles), agents gone longer than `releaseAfterMs` lose their share.
 */
import { createLogger, prom, SerialQueue, systemClock, type Clock, type Component, type Logger } from '../common/index.js';
import type { MasterHandle } from '../contracts/index.js';
import type { OverlayAgent, OverlayConfig, OverlayNetwork, PartName, PartSource, SnapshotParts } from '../contracts/index.js';
import { Allocator } from './allocator.js';
import { mountApi } from './api.js';
import { DEFAULT_OVERLAY, parseNetwork } from './config.js';
import { DEFAULT_LIMITS } from '../contracts/index.js';
import { ConfigError } from '../common/index.js';

export interface OverlayMasterOptions {
  config?: OverlayConfig;
  initialNetworks?: OverlayNetwork[];
  /** Without `MasterHandle.knownAgent`: an agent missing from master state (or inactive) this long loses its share. Default 24 h. */
  releaseAfterMs?: number;
  clock?: Clock;
  /** Agent API port for counters; default the port the agent registered with (its pid `slave(1)@ip:port`), else 5051. */
  agentPort?: number;
  /** Override where an agent's `GET /v1/overlay/isolation` is (tests, proxies). */
  agentUrl?: (a: OverlayAgent) => string | undefined;
  /** The control-plane version carrying the allocator's state now, named by the API's writes (the plugin: `host.control.settledVersion`). */
  settledVersion?: () => Promise<number | undefined>;
}

interface Slave {
  id: string;
  ip: string;
  /** The agent's IPv6 address when it registered one (`ip6` in the master's state). */
  ip6?: string;
  active: boolean;
}

export function slavesOf(state: Record<string, unknown>): Slave[] {
  const out: Slave[] = [];
  for (const s of (state.slaves as Record<string, unknown>[] | undefined) ?? []) {
    const m = /@([^:]+):/.exec(String(s.pid ?? ''));
    if (typeof s.id === 'string' && m) out.push({ id: s.id, ip: m[1]!, ...(typeof s.ip6 === 'string' ? { ip6: s.ip6 } : {}), active: s.active !== false });
  }
  return out;
}

export function tasksOnNetwork(state: Record<string, unknown>, network: string): string[] {
  const out: string[] = [];
  const terminal = new Set(['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR', 'TASK_GONE']);
  for (const fw of (state.frameworks as { tasks?: Record<string, unknown>[] }[] | undefined) ?? []) {
    for (const t of fw.tasks ?? []) {
      if (terminal.has(String(t.state))) continue;
      const statuses = (t.statuses as { container_status?: { network_infos?: { name?: string }[] } }[] | undefined) ?? [];
      const names = statuses.flatMap((s) => s.container_status?.network_infos ?? []).map((n) => n.name);
      if (names.includes(network)) out.push(String(t.id));
    }
  }
  return out;
}

export class OverlayMaster implements Component {
  readonly name = 'overlay-master';
  readonly allocator: Allocator;
  readonly config: OverlayConfig;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly missingSince = new Map<string, number>();
  private timer: unknown;
  private unsub?: () => void;
  private unclaim?: () => void;
  private readonly syncs = new SerialQueue();

  constructor(
    private readonly m: MasterHandle,
    private readonly opts: OverlayMasterOptions = {},
  ) {
    this.config = opts.config ?? DEFAULT_OVERLAY;
    this.clock = opts.clock ?? systemClock;
    this.log = createLogger('overlay', { role: 'master' });
    const failures = new prom.Counter({ name: 'sextant_overlay_allocation_failures_total', help: 'Allocations that failed (exhaustion)', labelNames: ['agent'], registers: [m.registry] });
    this.allocator = new Allocator({
      store: m.store,
      config: this.config,
      initialNetworks: opts.initialNetworks,
      log: this.log,
      onExhausted: (e) => failures.inc({ agent: e.agentId }),
      refuseStored: (n, accepted) => this.refuseStored(n, accepted),
    });
    const a = this.allocator;
    new prom.Gauge({ name: 'sextant_overlay_networks', help: 'Virtual networks defined', registers: [m.registry], collect() { this.set(a.networks.size); } });
    new prom.Gauge({ name: 'sextant_overlay_agents_allocated', help: 'Agents holding an overlay share', registers: [m.registry], collect() { this.set(a.agents.size); } });
  }

  /** A stored network must pass today's checks: the parser's (overlaps, prefix) and the address book's. */
  private refuseStored(n: OverlayNetwork, accepted: OverlayNetwork[]): string | undefined {
    try {
      const { key: _key, ...body } = n;
      parseNetwork(body, accepted, this.config.vtep_subnet);
    } catch (e) {
      if (e instanceof ConfigError) return e.message;
      throw e;
    }
    return [n.subnet, n.subnet6].map((c) => (c ? this.subnetRefusal(c) : undefined)).find(Boolean);
  }

  /** The API port agent `id` registered with (from its pid in the master's state). */
  private registeredPort(id: string): number | undefined {
    const s = ((this.m.state().slaves as Record<string, unknown>[] | undefined) ?? []).find((x) => x.id === id);
    const port = /@[^:]+:(\d+)$/.exec(String(s?.pid ?? ''))?.[1];
    return port ? Number(port) : undefined;
  }

  /** The master's address book, leaving out the overlay's own claims (the parser checks overlaps among networks). */
  private subnetRefusal(cidr: string): string | undefined {
    return this.m.addresses?.subnetRefusal(cidr, (c) => c.kind === 'overlay');
  }

  async start(): Promise<void> {
    await this.allocator.load();
    const a = this.allocator;
    this.unclaim = this.m.addresses?.claim(() => [
      { what: `the overlay's VTEP subnet`, cidr: this.config.vtep_subnet, kind: 'overlay' as const },
      ...[...a.networks.values()].flatMap((n) => [
        { what: `overlay network "${n.name}"`, cidr: n.subnet, kind: 'overlay' as const, network: n.name },
        ...(n.subnet6 ? [{ what: `overlay network "${n.name}"`, cidr: n.subnet6, kind: 'overlay' as const, network: n.name }] : []),
      ]),
    ]);
    const limits = this.m.limits ?? DEFAULT_LIMITS;
    this.m.routes((r) =>
      mountApi(r, {
        subnetRefusal: (c) => this.subnetRefusal(c),
        maxNetworks: limits.networks,
        maxRulesPerNetwork: limits.rulesPerNetwork,
        allocator: this.allocator,
        vtepSubnet: this.config.vtep_subnet,
        tasksOn: (n) => tasksOnNetwork(this.m.state(), n),
        ...(this.m.tls ? { tls: this.m.tls } : {}),
        ...(this.opts.settledVersion ? { settledVersion: this.opts.settledVersion } : {}),
        agentUrl: this.opts.agentUrl ?? ((ag) => `${this.m.tls ? 'https' : 'http'}://${ag.ip}:${this.opts.agentPort ?? this.registeredPort(ag.agent_id) ?? 5051}/v1/overlay/isolation`),
      }),
    );
    this.unsub = this.m.onChange(() => void this.sync());
    await this.sync();
  }

  async stop(): Promise<void> {
    this.unsub?.();
    this.unclaim?.();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.syncs.idle();
  }

  /** Follow the master's agents (coalesced: one sync at a time). */
  sync(): Promise<void> {
    return this.syncs.run(() => this.syncOnce()).catch((e) => this.log.error('overlay_sync_failed', { err: e }));
  }

  private async syncOnce(): Promise<void> {
    const now = this.clock.now();
    const slaves = slavesOf(this.m.state());
    const live = new Set<string>();
    for (const s of slaves) {
      if (!s.active) continue;
      live.add(s.id);
      this.missingSince.delete(s.id);
      await this.allocator.ensureAgent(s.id, s.ip, s.ip6).catch(() => undefined); // exhaustion is recorded and logged
    }
    const releaseAfter = this.opts.releaseAfterMs ?? 24 * 3600_000;
    let nextCheck = Infinity;
    for (const id of [...this.allocator.agents.keys()]) {
      if (live.has(id)) continue;
      if (this.m.knownAgent) {
        // The master holds the grace period (and its clock): release once it forgot the agent.
        if (!this.m.knownAgent(id)) await this.allocator.releaseAgent(id);
        continue;
      }
      const since = this.missingSince.get(id) ?? now;
      this.missingSince.set(id, since);
      if (now - since >= releaseAfter) {
        this.missingSince.delete(id);
        await this.allocator.releaseAgent(id);
      } else nextCheck = Math.min(nextCheck, since + releaseAfter - now);
    }
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = Number.isFinite(nextCheck) ? this.clock.setTimeout(() => void this.sync(), nextCheck) : undefined;
  }

  /** The snapshot parts this component owns. */
  sources(): PartSource[] {
    const a = this.allocator;
    const src = <P extends PartName>(part: P, entries: () => SnapshotParts[P]): PartSource<P> => ({ part, entries, onChange: (fn) => a.onChange(fn) });
    return [
      src('networks', () => [...a.networks.values()]),
      src('overlay_agents', () => [...a.agents.values()] as OverlayAgent[]),
      src('isolation_rules', () => [...a.rules.values()]),
      src('network_policies', () => [...a.policies.values()]),
    ] as PartSource[];
  }
}
