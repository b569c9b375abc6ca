/**
 * Agent side: applies the `vips` part of the control-plane snapshot to the driver. Each version is
 * one apply (minimal diff); a full reconcile every 30 s (injected clock) repairs what others
 * changed. VIPs without backends are not programmed. Order on change: the agent applies l4lb
 * (backends, then the VIP route where the driver needs one) before the dispatcher serves the
 * names, so a name never resolves before traffic to it works.
 */
import { systemClock, type Clock } from '../common/clock.js';
import { createLogger, type Logger } from '../common/log.js';
import type { Registry } from '../common/metrics.js';
import type { PartName, Snapshot, SnapshotConsumer, Vip } from '../contracts/index.js';
import type { Component } from '../common/daemon.js';
import type { L4lbDriver, Service } from './driver.js';
import { l4lbMetrics, type L4lbMetrics } from './metrics.js';
import { servicesFromVips } from './services.js';

export interface ReconcilerOptions {
  driver: L4lbDriver;
  registry: Registry;
  clock?: Clock;
  /** Full reconcile period (default 30 s). */
  reconcileMs?: number;
  log?: Logger;
}

export class L4lbReconciler implements SnapshotConsumer, Component {
  readonly name = 'l4lb';
  readonly parts: PartName[] = ['vips'];
  readonly driver: L4lbDriver;
  private readonly clock: Clock;
  private readonly periodMs: number;
  private readonly log: Logger;
  private readonly metrics: L4lbMetrics;
  private vips: Vip[] = [];
  /** The services of the last snapshot, sorted by key: an unchanged VIP keeps its Service (servicesFromVips). */
  private desired: Service[] = [];
  /** The `vips` array of the last apply that succeeded. */
  private appliedVips: Vip[] | undefined;
  /** The control-plane version whose VIPs were last applied (health: sextant-l4lb). */
  appliedVersion: number | undefined;
  private timer: unknown;
  private running = false;
  /** Settles when the current periodic reconcile ends (tests await it). */
  lastReconcile: Promise<void> = Promise.resolve();

  constructor(opts: ReconcilerOptions) {
    this.driver = opts.driver;
    this.clock = opts.clock ?? systemClock;
    this.periodMs = opts.reconcileMs ?? 30_000;
    this.log = opts.log ?? createLogger('l4lb');
    this.metrics = l4lbMetrics(opts.registry);
  }

  async start(): Promise<void> {
    await this.driver.start();
    this.metrics.driver.set({ driver: this.driver.name }, 1);
    this.running = true;
    this.schedule();
    this.log.info('l4lb_started', { driver: this.driver.name, reconcile_ms: this.periodMs });
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    await this.lastReconcile;
    await this.driver.stop();
  }

  /** The services the kernel should hold now (normalized). */
  desiredServices(): Service[] {
    return this.desired;
  }

  /** The VIPs last applied (for `GET /v1/vips`). */
  current(): Vip[] {
    return this.vips;
  }

  async apply(view: Snapshot): Promise<void> {
    const vips = view.parts.vips ?? [];
    // The held view hands an unchanged part over as the same array (control/view.ts): the VIPs
    // this reconciler last applied without error are in the kernel already (drift is the periodic
    // reconcile's); nothing to build or walk.
    if (vips === this.appliedVips) {
      this.appliedVersion = view.version;
      return;
    }
    this.appliedVips = undefined;
    const desired = servicesFromVips(vips, this.desired);
    const end = this.metrics.syncSeconds.startTimer({ kind: 'apply' });
    // Set first: a periodic reconcile queued behind this apply must aim at the newest state.
    this.desired = desired;
    try {
      const res = await this.driver.apply(desired);
      // The snapshot's own array when every VIP has backends (no copy of 10,000 entries held).
      this.vips = vips.every((v) => v.backends.length > 0) ? vips : vips.filter((v) => v.backends.length > 0);
      this.appliedVersion = view.version;
      this.appliedVips = vips;
      this.observe();
      if (res.added || res.removed || res.changed) this.log.info('vips_applied', { version: view.version, ...res });
    } catch (e) {
      this.metrics.syncErrors.inc({ kind: 'apply' });
      this.log.error('vips_apply_failed', { version: view.version, err: e });
      throw e;
    } finally {
      end();
    }
  }

  /** One full reconcile against the data plane now. */
  async reconcileNow(): Promise<void> {
    const end = this.metrics.syncSeconds.startTimer({ kind: 'reconcile' });
    try {
      const res = await this.driver.reconcile(this.desired);
      const repaired = res.rules ?? res.added + res.removed + res.changed;
      if (repaired) {
        this.metrics.reconciledRules.inc(repaired);
        this.log.warn('l4lb_drift_repaired', { ...res });
      }
    } catch (e) {
      this.metrics.syncErrors.inc({ kind: 'reconcile' });
      this.log.error('l4lb_reconcile_failed', { err: e });
    } finally {
      end();
    }
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => {
      this.lastReconcile = this.reconcileNow().finally(() => this.schedule());
    }, this.periodMs);
  }

  private observe(): void {
    this.metrics.vips.set(this.desired.length);
    let active = 0;
    let draining = 0;
    for (const s of this.desired) for (const b of s.backends) b.weight > 0 ? active++ : draining++;
    this.metrics.backends.set({ state: 'active' }, active);
    this.metrics.backends.set({ state: 'draining' }, draining);
  }
}

/** `GET /v1/vips` body, like dcos-net: vip, protocol, backends (plus name and weight). */
export function vipsApiView(vips: Vip[]): unknown[] {
  return vips.map((v) => ({
    vip: v.ip.includes(':') ? `[${v.ip}]:${v.port}` : `${v.ip}:${v.port}`,
    protocol: v.protocol,
    ...(v.name ? { name: v.name, framework: v.framework, dns_name: v.dns_name } : {}),
    backend: v.backends.map((b) => ({ ip: b.ip, port: b.port, weight: b.weight, task_id: b.task_id, agent_id: b.agent_id })),
  }));
}
