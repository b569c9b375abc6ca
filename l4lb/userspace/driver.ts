/**
 * The userspace L4LB driver: a TCP/UDP proxy in Node for machines without IPVS or nftables (no
 * root, containers). It is the slow path (every byte crosses the event loop) and says so.
 */
import { createLogger, type Logger } from '../../common/log.js';
import { SerialQueue } from '../../common/serial-queue.js';
import type { ApplyResult, L4lbDriver, Service } from '../driver.js';
import { DriverError } from '../errors.js';
import { diffServices, normalize, sameBackends } from '../services.js';
import type { Balance } from './balancer.js';
import { ServiceProxy, type ListenAddress } from './service.js';
import type { SocketOp } from './local-errors.js';
import { nativeRelay } from './native-relay.js';
import { LocalVips } from './local-vips.js';
import type { DriverNetMetrics } from '../driver.js';
import { VipCounters } from '../vipmetrics/counters.js';
import type { Clock } from '../../common/clock.js';

export interface UserspaceDriverOptions {
  /** Where to listen for a service; default the VIP and port themselves (the VIP must be local). */
  listenAddress?: (s: Service) => ListenAddress;
  /**
   * Make each VIP local before listening on it: an address on this dummy interface (created if
   * missing, deleted at stop; local-vips.ts). Needs CAP_NET_ADMIN. Not used with listenAddress.
   */
  vipInterface?: string;
  balance?: Balance;
  connectTimeoutMs?: number;
  udpIdleMs?: number;
  log?: Logger;
  /** Called when a backend refused or timed out a connection. */
  onUnreachable?: (backend: string) => void;
  /** Called when this process could not get a socket (errno name, e.g. EMFILE). */
  onSocketError?: (op: SocketOp, errno: string) => void;
  /** Per VIP and backend metrics (connections, failures, bytes, connect latency); default on. */
  metrics?: boolean;
  /** Metrics: their clock (`since`, how long a removed backend's counters are kept). */
  clock?: Clock;
}

/** What the userspace proxy measures: everything (connect latency for TCP only). */
const MEASURES = { connections: true, failures: true, bytes: true, latency: true };

export class UserspaceDriver implements L4lbDriver {
  readonly name = 'userspace' as const;
  private readonly proxies = new Map<string, ServiceProxy>();
  private readonly log: Logger;
  /** Changes run one at a time. */
  private readonly queue = new SerialQueue();
  private readonly localVips?: LocalVips;
  private readonly counters?: VipCounters;

  constructor(private readonly opts: UserspaceDriverOptions = {}) {
    this.log = opts.log ?? createLogger('l4lb', { driver: 'userspace' });
    if (opts.metrics !== false) this.counters = new VipCounters(opts.clock);
    if (opts.vipInterface && !opts.listenAddress) this.localVips = new LocalVips(opts.vipInterface);
  }

  async available(): Promise<{ ok: true }> {
    return { ok: true };
  }

  async start(): Promise<void> {
    if (this.localVips) {
      await this.localVips.start().catch((e: Error) => {
        throw new DriverError('userspace', `cannot make VIPs local on ${this.localVips!.iface}: ${e.message}`);
      });
      this.log.info('userspace_local_vips', { interface: this.localVips.iface });
    }
    const relay = nativeRelay();
    this.log.warn('userspace_slow_path', {
      message: 'l4lb runs the userspace proxy: the slow path, every byte is copied through this process; use ipvs or nftables where possible',
      tcp_relay: relay ? `native, ${relay.threads} relay thread(s)` : 'net.Socket',
    });
  }

  apply(desired: Service[]): Promise<ApplyResult> {
    return this.queue.run(() => this.sync(normalize(desired)));
  }

  reconcile(desired: Service[]): Promise<ApplyResult> {
    return this.queue.run(() => this.sync(normalize(desired)));
  }

  async dump(): Promise<Service[]> {
    return normalize([...this.proxies.values()].filter((p) => p.listening).map((p) => p.service));
  }

  async stop(): Promise<void> {
    await this.queue.run(async () => {
      for (const p of this.proxies.values()) await p.stop();
      this.proxies.clear();
      await this.localVips?.stop();
    });
  }

  async netMetrics(): Promise<DriverNetMetrics | undefined> {
    const c = this.counters;
    if (!c) return undefined;
    const live = [...this.proxies.values()].map((p) => p.service);
    const vips = c.snapshot(live, { fields: MEASURES, latencyFor: (p) => p === 'tcp' });
    return { measures: MEASURES, since: c.since, vips };
  }

  /** Open connections per backend (`ip:port`) for one service key. */
  openConnections(key: string): Map<string, number> {
    return new Map(this.proxies.get(key)?.balancer.open ?? []);
  }

  /** Connections (tcp) and sessions (udp) open now over every service (metrics). */
  openTotals(): { tcp: number; udp: number } {
    const out = { tcp: 0, udp: 0 };
    for (const p of this.proxies.values()) for (const n of p.balancer.open.values()) out[p.service.protocol] += n;
    return out;
  }

  /** Tests: close one service's listener behind the driver's back. */
  breakListener(key: string): void {
    this.proxies.get(key)?.breakListener();
  }

  private async sync(want: Service[]): Promise<ApplyResult> {
    const before = normalize([...this.proxies.values()].filter((p) => p.listening).map((p) => p.service));
    const errors: string[] = [];
    const keep = new Set(want.map((s) => s.key));
    for (const [key, p] of this.proxies) {
      if (keep.has(key)) continue;
      await p.stop(true);
      this.proxies.delete(key);
    }
    await this.localVips?.releaseExcept(new Set(want.map((s) => s.vip)));
    for (const s of want) {
      let p = this.proxies.get(s.key);
      if (p && !sameBackends(p.service.backends, s.backends)) p.update(s);
      if (!p) {
        const listen = this.opts.listenAddress?.(s) ?? { host: s.vip, port: s.port };
        p = new ServiceProxy(s, listen, {
          balance: this.opts.balance ?? 'hash',
          log: this.log,
          connectTimeoutMs: this.opts.connectTimeoutMs ?? 3000,
          udpIdleMs: this.opts.udpIdleMs ?? 30_000,
          onUnreachable: (b) => this.opts.onUnreachable?.(b),
          onSocketError: (op, e) => this.opts.onSocketError?.(op, e),
          counters: this.counters,
        });
        this.proxies.set(s.key, p);
      }
      try {
        if (this.localVips && !p.listening) await this.localVips.hold(s.vip);
        await p.start();
      } catch (e) {
        errors.push(`${s.key} on ${p.listen.host}:${p.listen.port}: ${(e as Error).message}`);
      }
    }
    const res = diffServices(before, await this.dump());
    if (errors.length) throw new DriverError('userspace', `cannot listen for ${errors.join('; ')}`);
    return res;
  }
}
