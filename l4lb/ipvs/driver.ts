/**
 * The IPVS L4LB driver (DC/OS Minuteman's data plane): one IPVS virtual service per VIP:port with
 * scheduler `wlc` (or `mh`, ...), masquerade destinations with weights (0 = drain), the VIP made
 * local by a route in table local on the `minuteman` dummy interface.
 *
 * Ownership: a kernel service is ours when its VIP has a local route on our interface or when we
 * programmed it; other IPVS services (an admin's, kube-proxy's) are never read into a diff.
 * `apply` diffs against what it last wrote; `reconcile` against a kernel dump. A failed apply
 * falls back to a full reconcile.
 */
import { createLogger, type Logger } from '../../common/log.js';
import { SerialQueue } from '../../common/serial-queue.js';
import type { ApplyResult, L4lbDriver, Service } from '../driver.js';
import { DriverError } from '../errors.js';
import { normalize } from '../services.js';
import { IpvsSocket } from './genl.js';
import { IpvsHost, execRunner, type LocalRoutes, type Runner } from './host.js';
import { kernelKey, opCount, planChanges, type KernelService, type Plan } from './plan.js';
import { Written } from './written.js';
import type { DriverNetMetrics } from '../driver.js';
import { IPVSADM_STATS_ARGS, ipvsMetrics, parseIpvsStats } from '../vipmetrics/ipvs-stats.js';

export interface IpvsDriverOptions {
  /** IPVS scheduler for every service (default `wlc`; `mh` for consistent hashing). */
  scheduler?: string;
  /** Dummy interface holding the VIP routes (default `minuteman`). */
  iface?: string;
  /** iptables binary for the hairpin MASQUERADE rule (default `iptables`); false: none. */
  iptables?: string | false;
  /**
   * The node's own IPv4 address (the agent's): VIP routes prefer it as source, and flows from it
   * skip MASQUERADE (see host.ts). Unset, loopback or not local here: every flow is masqueraded.
   */
  nodeIp?: string;
  /** `ip` binary (default `ip`). */
  ip?: string;
  /** Commands in flight at once (default 64). */
  window?: number;
  log?: Logger;
  /** Injected command runner (tests). */
  run?: Runner;
  /** Per VIP and backend counters from `ipvsadm -Ln --stats` at poll time (vipmetrics/ipvs-stats.ts); default on. */
  metrics?: boolean;
  /** `ipvsadm` binary (metrics; default `ipvsadm`). */
  ipvsadm?: string;
}

export class IpvsDriver implements L4lbDriver {
  readonly name = 'ipvs' as const;
  readonly scheduler: string;
  readonly iface: string;
  private readonly host: IpvsHost;
  private readonly window: number;
  private readonly log: Logger;
  private sock?: IpvsSocket;
  /** What this driver last wrote; undefined: unknown, diff against the kernel. */
  private written?: Written;
  /** Changes run one at a time. */
  private readonly queue = new SerialQueue();
  private sourceProblem?: string;
  private readonly opts: IpvsDriverOptions;
  private readonly since = Date.now();

  constructor(opts: IpvsDriverOptions = {}) {
    this.opts = opts;
    this.scheduler = opts.scheduler ?? 'wlc';
    this.iface = opts.iface ?? 'minuteman';
    this.window = opts.window ?? 64;
    this.log = opts.log ?? createLogger('l4lb', { driver: 'ipvs', iface: this.iface });
    this.host = new IpvsHost({ iface: this.iface, ip: opts.ip ?? 'ip', iptables: opts.iptables ?? 'iptables', nodeIp: opts.nodeIp, run: opts.run ?? execRunner });
  }

  async available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      const s = await IpvsSocket.open();
      s.close();
      return { ok: true };
    } catch (e) {
      return { ok: false, reason: `generic netlink family IPVS does not resolve (is ip_vs loaded? CONFIG_IP_VS?): ${(e as Error).message}` };
    }
  }

  async start(): Promise<void> {
    await this.queue.run(async () => {
      this.sock ??= await IpvsSocket.open();
      await this.ensureHost();
    });
  }

  /** Interface, sysctl and hairpin rule; cheap and idempotent, so every full reconcile repeats it. */
  private async ensureHost(): Promise<void> {
    await this.host.ensureInterface();
    if (await this.host.ensureConntrack()) this.log.info('ipvs_conntrack_enabled', { sysctl: 'net.ipv4.vs.conntrack=1' });
    const before = this.host.source;
    const why = await this.host.ensureSource().catch((e: Error) => `cannot list addresses: ${e.message}`);
    if (why && why !== this.sourceProblem) this.log.warn('ipvs_node_source_unusable', { reason: why, message: 'every IPVS flow is masqueraded' });
    this.sourceProblem = why;
    if (this.host.source !== before) this.log.info('ipvs_node_source', { source: this.host.source ?? null });
    try {
      await this.host.ensureMasquerade();
    } catch (e) {
      this.log.warn('ipvs_hairpin_masquerade_unavailable', { err: e, message: 'a client that is its own backend will not get replies' });
    }
    try {
      await this.host.ensureMasquerade(6);
      this.masq6Problem = undefined;
    } catch (e) {
      const why = (e as Error).message;
      if (why !== this.masq6Problem) this.log.warn('ipvs_v6_masquerade_unavailable', { err: e, message: 'IPv6 VIPs will not get replies from backends on other hosts or the client itself' });
      this.masq6Problem = why;
    }
  }

  private masq6Problem?: string;

  async stop(): Promise<void> {
    await this.queue.idle();
    this.sock?.close();
    this.sock = undefined;
  }

  apply(desired: Service[]): Promise<ApplyResult> {
    return this.queue.run(async () => {
      if (!this.written) return this.reconcileNow(normalize(desired));
      // Services programmed and unchanged cost one comparison each; only changes are planned.
      const { plan, commit } = this.written.delta(desired);
      try {
        await this.execute(plan);
      } catch (e) {
        this.log.warn('ipvs_apply_failed_full_resync', { err: e });
        this.written = undefined;
        return this.reconcileNow(normalize(desired));
      }
      commit();
      return { ...plan.result, rules: opCount(plan) };
    });
  }

  reconcile(desired: Service[]): Promise<ApplyResult> {
    return this.queue.run(() => this.reconcileNow(normalize(desired)));
  }

  async netMetrics(): Promise<DriverNetMetrics | undefined> {
    if (this.opts.metrics === false) return undefined;
    const text = await (this.opts.run ?? execRunner)(this.opts.ipvsadm ?? 'ipvsadm', IPVSADM_STATS_ARGS);
    return ipvsMetrics(parseIpvsStats(text), await this.dump(), this.since);
  }

  async dump(): Promise<Service[]> {
    const { services } = await this.queue.run(() => this.readKernel([]));
    return normalize([...services.values()].map(({ sched: _s, ...svc }) => svc));
  }

  private async reconcileNow(want: Service[]): Promise<ApplyResult> {
    await this.ensureHost();
    const { services, routes } = await this.readKernel(want);
    const plan = planChanges(services, want, this.scheduler, routes.ok);
    // Routes with another source than wanted are replaced (in routesAdd) or, when not wanted, deleted.
    const wanted = new Set(want.map((s) => s.vip));
    for (const v of routes.all) if (!routes.ok.has(v) && !wanted.has(v)) plan.routesDel.push(v);
    await this.execute(plan);
    this.written = new Written(want, this.scheduler);
    const res = { ...plan.result, rules: opCount(plan) };
    if (res.rules) this.log.info('ipvs_reconciled', { ...res });
    return res;
  }

  /** Our services (with destinations) and our VIP routes, as the kernel has them now. */
  private async readKernel(want: Service[]): Promise<{ services: Map<string, KernelService>; routes: LocalRoutes }> {
    const sock = await this.socket();
    const routes = await this.host.localRoutes();
    const mine = new Set([...want.map((s) => s.key), ...(this.written?.keys() ?? [])]);
    const services = new Map<string, KernelService>();
    const ours = (await sock.services()).filter((s) => routes.all.has(s.addr) || mine.has(kernelKey(s)));
    const dests = await sock.destsMany(ours);
    ours.forEach((s, i) => {
      const key = kernelKey(s);
      const backends = dests[i]!.map((d) => ({ ip: d.addr, port: d.port, weight: d.weight }));
      services.set(key, { key, vip: s.addr, port: s.port, protocol: s.protocol, backends, ...(s.sched ? { sched: s.sched } : {}) });
    });
    const norm = normalize([...services.values()]);
    return { services: new Map(norm.map((s) => [s.key, { ...s, sched: services.get(s.key)?.sched }])), routes };
  }

  private async execute(plan: Plan): Promise<void> {
    const sock = await this.socket();
    const fail = (errors: Error[], step: string) => {
      if (errors.length) throw new DriverError('ipvs', `${errors.length} ${step} failed, first: ${errors[0]!.message}`, { cause: errors[0] });
    };
    fail(await sock.runAll(plan.services, this.window), 'service commands');
    fail(await sock.runAll(plan.dests, this.window), 'destination commands');
    try {
      await this.host.setRoutes(plan.routesAdd, plan.routesDel);
    } catch (e) {
      throw new DriverError('ipvs', `routes on ${this.iface}: ${(e as Error).message}`, { cause: e });
    }
    fail(await sock.runAll(plan.removals, this.window), 'service removals');
  }

  private async socket(): Promise<IpvsSocket> {
    this.sock ??= await IpvsSocket.open();
    return this.sock;
  }
}
