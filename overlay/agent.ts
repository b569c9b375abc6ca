/**
 * The overlay on an agent: a SnapshotConsumer for `networks`, `overlay_agents`,
 * `isolation_rules` and `network_policies`. Each view replaces the desired state; one sync at a
 * time dumps the kernel, diffs into a typed plan (`Op[]`), has the driver apply it, then the
 * nftables table. A periodic full reconcile (injected clock) repairs drift; after a failure the
 * next sync runs anyway.
 */
import { createLogger, prom, SerialQueue, systemClock, type Clock, type Component, type Logger, type Registry, type Router } from '../common/index.js';
import type { PartName, Snapshot, SnapshotConsumer } from '../contracts/index.js';
import { desiredState, NotAllocatedError, type DesiredState } from './desired.js';
import { planChanges } from './diff.js';
import { renderBatch, type Plan } from './batch.js';
import type { Op } from './ops.js';
import { missingSlices } from './exhaustion.js';
import { createDriver, kernelKind, type KernelKind } from './driver.js';
import type { KernelDriver } from './kernel.js';
import { buildRuleset, buildRuleset6, commentsOf, NFT_TABLE, parseCounters, replaceTableScript, sumCounters, withCounters, type RuleCounter } from './nft.js';
import { VTEP_SUBNET6 } from './desired.js';

export interface OverlayAgentOptions {
  agentId: string;
  registry: Registry;
  /** Network namespace to program (undefined: the current one). */
  netns?: string;
  driver?: KernelDriver;
  /** Kernel driver when `driver` is not given (default: env SEXTANT_OVERLAY_KERNEL, else netlink for the own namespace, iproute2 for `netns`). */
  kernel?: KernelKind;
  clock?: Clock;
  /** Full reconcile period. Default 30 s. */
  reconcileMs?: number;
  /** Skip nftables (masquerade + isolation). Default false. */
  noNft?: boolean;
}

export interface SyncReport {
  /** The typed plan the driver executed. */
  ops: Op[];
  /** The same plan in iproute2 batch form (for logs, tests and people), whichever driver ran it. */
  plan: Plan;
  nft: boolean;
  ms: number;
}

export class OverlayAgentComponent implements Component, SnapshotConsumer {
  readonly name = 'overlay';
  readonly parts: PartName[] = ['networks', 'overlay_agents', 'isolation_rules', 'network_policies'];
  readonly driver: KernelDriver;
  /** Which driver programs the kernel (`custom` when one was injected). */
  readonly kernel: KernelKind | 'custom';
  private readonly clock: Clock;
  private readonly log: Logger;
  private view?: Snapshot;
  private want?: DesiredState;
  private appliedNft?: string;
  private readonly queue = new SerialQueue();
  private timer: unknown;
  private running = false;
  private readonly m;
  lastError?: string;
  /** Networks this agent has no slice of, with the reason (exhaustion named): API and metric. */
  missing: { network: string; reason: string }[] = [];
  lastReport?: SyncReport;

  constructor(private readonly opts: OverlayAgentOptions) {
    this.kernel = opts.driver ? 'custom' : kernelKind(opts.netns, opts.kernel);
    this.driver = opts.driver ?? createDriver(this.kernel as KernelKind, opts.netns);
    this.clock = opts.clock ?? systemClock;
    this.log = createLogger('overlay', { role: 'agent', agent_id: opts.agentId });
    const r = [opts.registry];
    const self = this;
    this.m = {
      failures: new prom.Counter({ name: 'sextant_overlay_configuration_failures_total', help: 'Overlay syncs that failed', registers: r }),
      netlinkErrors: new prom.Counter({ name: 'sextant_overlay_netlink_errors_total', help: 'Kernel (rtnetlink/nft) commands that failed', labelNames: ['op'], registers: r }),
      duration: new prom.Histogram({ name: 'sextant_overlay_update_duration_seconds', help: 'Time to bring the kernel to the desired overlay state', buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: r }),
      changes: new prom.Counter({ name: 'sextant_overlay_kernel_changes_total', help: 'Kernel operations applied (plan ops: one ip/bridge batch line or rtnetlink request each)', registers: r }),
    };
    new prom.Gauge({ name: 'sextant_overlay_kernel_driver', help: 'Kernel driver in use (1 for the active one)', labelNames: ['driver'], registers: r }).set({ driver: this.kernel }, 1);
    new prom.Gauge({
      name: 'sextant_overlay_networks_unallocated',
      help: 'Networks this agent has no slice of (1 per network; the log and GET /v1/overlay say why, e.g. exhaustion)',
      labelNames: ['network'],
      registers: r,
      collect() {
        this.reset();
        for (const m of self.missing) this.set({ network: m.network }, 1);
      },
    });
    new prom.Gauge({ name: 'sextant_overlay_networks_configured', help: 'Virtual networks programmed on this agent', registers: r, collect() { this.set(self.want?.bridges.length ?? 0); } });
    new prom.Gauge({
      name: 'sextant_overlay_isolation_rule_hits',
      help: 'Packets matched per isolation rule (nftables counters)',
      labelNames: ['rule'],
      registers: r,
      async collect() {
        this.reset();
        for (const c of await self.counters().catch(() => [])) this.set({ rule: c.key }, c.packets);
      },
    });
  }

  async start(): Promise<void> {
    this.running = true;
    this.log.info('overlay_kernel_driver', { driver: this.kernel, netns: this.opts.netns ?? null });
    await this.driver.sysctl('net.ipv4.ip_forward', '1').catch((e) => this.log.warn('overlay_ip_forward_failed', { err: e }));
    await this.driver.sysctl('net.ipv6.conf.all.forwarding', '1').catch((e) => this.log.warn('overlay_ip_forward_failed', { err: e, family: 6 }));
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.queue.idle();
    this.driver.close?.();
  }

  private schedule(): void {
    if (!this.running) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.sync(true).catch(() => undefined).finally(() => this.schedule());
    }, this.opts.reconcileMs ?? 30_000);
  }

  /** A new view of the parts: becomes the desired state; resolves once the kernel matches. */
  async apply(view: Snapshot): Promise<void> {
    this.view = view;
    this.noteMissing(missingSlices(view, this.opts.agentId));
    try {
      this.want = desiredState(view, this.opts.agentId);
    } catch (e) {
      if (e instanceof NotAllocatedError) {
        this.want = undefined; // nothing to program until the master gives us a share
        this.lastError = this.missing[0]?.reason ?? e.message;
        return;
      }
      throw e;
    }
    await this.sync(false);
  }

  /** Log each network newly without a slice (once per change of reason), and each one that got one. */
  private noteMissing(now: { network: string; reason: string }[]): void {
    const before = new Map(this.missing.map((m) => [m.network, m.reason]));
    for (const m of now) if (before.get(m.network) !== m.reason) this.log.error('overlay_network_unallocated', { network: m.network, reason: m.reason });
    for (const [network] of before) if (!now.some((m) => m.network === network)) this.log.info('overlay_network_allocated', { network });
    this.missing = now;
  }

  /**
   * Dump, diff, apply (one at a time). `full` (periodic reconcile, restart) also re-reads the
   * nftables table to repair drift; an event-driven sync rewrites it only when its text changed.
   */
  sync(full = true): Promise<SyncReport | undefined> {
    return this.queue.run(() => this.syncOnce(full));
  }

  private async syncOnce(full: boolean): Promise<SyncReport | undefined> {
    const want = this.want;
    const view = this.view;
    if (!want || !view) return undefined;
    const end = this.m.duration.startTimer();
    const t0 = performance.now();
    try {
      const have = await this.step('dump', () => this.driver.dump(want.vtep.name));
      const ops = planChanges(want, have);
      await this.step('apply', () => this.driver.apply(ops));
      this.m.changes.inc(ops.length);
      const nft = this.opts.noNft ? false : await this.step('nft', () => this.syncNft(view, want, full));
      const plan = renderBatch(ops);
      const report = { ops, plan, nft, ms: performance.now() - t0 };
      this.lastReport = report;
      this.lastError = undefined;
      if (plan.ip.length + plan.bridge.length) this.log.info('overlay_synced', { ip: plan.ip.length, bridge: plan.bridge.length, nft, ms: Math.round(report.ms) });
      return report;
    } catch (e) {
      this.m.failures.inc();
      this.lastError = (e as Error).message;
      this.appliedNft = undefined; // force a full table rewrite next time
      this.log.error('overlay_sync_failed', { err: e });
      throw e;
    } finally {
      end();
    }
  }

  private async step<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      this.m.netlinkErrors.inc({ op });
      throw e;
    }
  }

  /** Rewrite the table when its text changed or the kernel's copy drifted (counters survive otherwise). */
  private async syncNft(view: Snapshot, want: DesiredState, full: boolean): Promise<boolean> {
    const input = {
      vtep: want.vtep.name,
      vtepSubnet: view.overlay.vtep_subnet,
      vxlanPort: view.overlay.vxlan_port,
      networks: view.parts.networks,
      rules: view.parts.isolation_rules,
      policies: view.parts.network_policies,
    };
    const text = buildRuleset(input);
    const text6 = buildRuleset6({ ...input, vtepSubnet6: VTEP_SUBNET6 });
    if (text + text6 === this.appliedNft && (!full || ((await this.nftIntact('ip', text)) && (await this.nftIntact('ip6', text6))))) return false;
    // Rules that stay keep their counts (the kernel's, per family), whatever else changed.
    await this.driver.nft(replaceTableScript(withCounters(text, await this.kernelCounters('ip')), withCounters(text6, await this.kernelCounters('ip6'))));
    this.appliedNft = text + text6;
    return true;
  }

  /** The counted rules' counts in the kernel's table of `family` now (none when it has no such table). */
  private async kernelCounters(family: 'ip' | 'ip6'): Promise<RuleCounter[]> {
    return parseCounters(await this.driver.nftJson(['list', 'table', family, NFT_TABLE]).catch(() => undefined));
  }

  private async nftIntact(family: 'ip' | 'ip6', text: string): Promise<boolean> {
    if (!text) return true; // no such table wanted (an ip6 one left by someone else is harmless)
    try {
      const have = parseCounters(await this.driver.nftJson(['list', 'table', family, NFT_TABLE])).map((c) => c.key).sort();
      return JSON.stringify(have) === JSON.stringify(commentsOf(text));
    } catch {
      return false;
    }
  }

  async counters(): Promise<RuleCounter[]> {
    if (this.opts.noNft || this.appliedNft === undefined) return [];
    const v4 = parseCounters(await this.driver.nftJson(['list', 'table', 'ip', NFT_TABLE]));
    if (!this.appliedNft.includes(`table ip6 ${NFT_TABLE}`)) return v4;
    return sumCounters([...v4, ...parseCounters(await this.driver.nftJson(['list', 'table', 'ip6', NFT_TABLE]))]);
  }

  /** What the overlay should hold now (undefined until the master gave this agent a VTEP). */
  desired(): DesiredState | undefined {
    return this.want;
  }

  /** The plan a sync would run now against a fresh kernel dump (empty: the kernel matches). */
  pendingOps(): Promise<Op[] | undefined> {
    // In the sync queue: the dump never interleaves with a sync's dump and apply on the driver.
    return this.queue.run(async () => {
      const want = this.want;
      return want ? planChanges(want, await this.driver.dump(want.vtep.name)) : undefined;
    });
  }

  /** Agent API: `GET /v1/overlay` (state) and `GET /v1/overlay/isolation` (counters per rule). */
  mount(router: Router): void {
    router.get('/v1/overlay', () => ({ json: { agent_id: this.opts.agentId, kernel: this.kernel, desired: this.want ?? null, unallocated: this.missing, last_error: this.lastError ?? null } }));
    router.get('/v1/overlay/isolation', async () => ({ json: { agent_id: this.opts.agentId, counters: await this.counters() } }));
  }
}
