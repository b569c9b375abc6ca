/**
 * Central VIP IP allocation (master side). A named VIP (`label.framework`) gets the lowest free
 * address of 11.0.0.0/8 (IPv6: fd01:c::/64), persisted in the KvStore under `l4lb/vip/` before it
 * is handed out, so it is stable across restarts and failover. A name that has had no backends
 * for `graceMs` is freed. All calls are serialized.
 */
import ipaddr from 'ipaddr.js';
import type { KvStore } from '../contracts/index.js';
import { systemClock, type Clock } from '../common/clock.js';
import { createLogger, type Logger } from '../common/log.js';
import { ConfigError } from '../common/errors.js';
import { SerialQueue } from '../common/serial-queue.js';
import { VipPoolExhaustedError } from './errors.js';
import { NAMED_VIP_RANGES } from '../contracts/vip-label.js';

export const STORE_PREFIX = 'l4lb/vip/';

export interface AllocatorOptions {
  v4Cidr?: string;
  v6Cidr?: string;
  /** How long a name keeps its IP with no backends (default 10 min). */
  graceMs?: number;
  clock?: Clock;
  log?: Logger;
}

interface Record_ {
  name: string;
  family: 4 | 6;
  ip: string;
  allocated_at: number;
}

class Pool {
  private readonly base: bigint;
  private readonly size: bigint;
  private readonly bits: number;
  private readonly used = new Set<bigint>();
  private hint = 1n;
  constructor(readonly cidr: string) {
    let net: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
      net = ipaddr.parseCIDR(cidr);
    } catch (e) {
      throw new ConfigError('l4lb.vip_cidr', `${cidr} is not a CIDR: ${(e as Error).message}`);
    }
    this.bits = net[0].kind() === 'ipv4' ? 32 : 128;
    const hostBits = BigInt(this.bits - net[1]);
    this.size = 1n << hostBits;
    this.base = (toBig(net[0]) >> hostBits) << hostBits;
  }
  contains(ip: string): boolean {
    const n = toBig(ipaddr.parse(ip)) - this.base;
    return n >= 0n && n < this.size;
  }
  mark(ip: string): void {
    this.used.add(toBig(ipaddr.parse(ip)) - this.base);
  }
  free(ip: string): void {
    const off = toBig(ipaddr.parse(ip)) - this.base;
    this.used.delete(off);
    if (off < this.hint) this.hint = off;
  }
  /** Lowest free host address (skips the network and broadcast addresses). */
  take(): string {
    for (let off = this.hint; off < this.size - 1n; off++) {
      if (off === 0n || this.used.has(off)) continue;
      this.used.add(off);
      this.hint = off + 1n;
      return fromBig(this.base + off, this.bits);
    }
    throw new VipPoolExhaustedError(`no free VIP address left in ${this.cidr}`);
  }
}

function toBig(a: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  return a.toByteArray().reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}
function fromBig(n: bigint, bits: number): string {
  const bytes: number[] = [];
  for (let i = bits / 8 - 1; i >= 0; i--) bytes.push(Number((n >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

export class VipAllocator {
  private readonly pools: Record<4 | 6, Pool>;
  private readonly byKey = new Map<string, Record_>();
  private readonly idleSince = new Map<string, number>();
  private readonly graceMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private loaded = false;
  private readonly queue = new SerialQueue();

  constructor(
    private readonly store: KvStore,
    opts: AllocatorOptions = {},
  ) {
    this.pools = { 4: new Pool(opts.v4Cidr ?? NAMED_VIP_RANGES[0]!), 6: new Pool(opts.v6Cidr ?? NAMED_VIP_RANGES[1]!) };
    this.graceMs = opts.graceMs ?? 10 * 60_000;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? createLogger('l4lb');
  }

  static key(name: string, family: 4 | 6): string {
    return `${STORE_PREFIX}${family}/${name}`;
  }

  /**
   * Make sure every wanted name has an IP (persisting new ones first) and age out names that are
   * no longer wanted. Returns name/family -> IP for the wanted ones.
   */
  ensure(wanted: { name: string; family: 4 | 6 }[]): Promise<Map<string, string>> {
    return this.queue.run(() => this.ensureNow(wanted));
  }

  /** When the next idle name expires (ms from now), or undefined. */
  nextExpiryIn(): number | undefined {
    let min: number | undefined;
    for (const t of this.idleSince.values()) {
      const left = t + this.graceMs - this.clock.now();
      if (min === undefined || left < min) min = left;
    }
    return min === undefined ? undefined : Math.max(0, min);
  }

  /** Current allocations (name, family, ip), sorted by key. */
  allocations(): Record_[] {
    return [...this.byKey.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, r]) => r);
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    for (const [key, rec] of await this.store.list<Record_>(STORE_PREFIX)) {
      const pool = this.pools[rec?.family];
      if (!pool || typeof rec.ip !== 'string' || !ipaddr.isValid(rec.ip) || !pool.contains(rec.ip)) {
        this.log.warn('vip_allocation_ignored', { key, reason: 'not in the configured VIP range', value: rec });
        continue;
      }
      pool.mark(rec.ip);
      this.byKey.set(key, rec);
    }
    this.loaded = true;
  }

  private async ensureNow(wanted: { name: string; family: 4 | 6 }[]): Promise<Map<string, string>> {
    await this.load();
    const out = new Map<string, string>();
    const now = this.clock.now();
    const want = new Set<string>();
    for (const w of wanted) {
      const key = VipAllocator.key(w.name, w.family);
      want.add(key);
      this.idleSince.delete(key);
      let rec = this.byKey.get(key);
      if (!rec) {
        const ip = this.pools[w.family].take();
        rec = { name: w.name, family: w.family, ip, allocated_at: now };
        try {
          await this.store.put(key, rec);
        } catch (e) {
          this.pools[w.family].free(ip);
          throw e;
        }
        this.byKey.set(key, rec);
        this.log.info('vip_allocated', { name: w.name, ip });
      }
      out.set(`${w.name}/${w.family}`, rec.ip);
    }
    await this.expire(want, now);
    return out;
  }

  private async expire(want: Set<string>, now: number): Promise<void> {
    for (const [key, rec] of this.byKey) {
      if (want.has(key)) continue;
      const since = this.idleSince.get(key);
      if (since === undefined) {
        this.idleSince.set(key, now);
        continue;
      }
      if (now - since < this.graceMs) continue;
      await this.store.delete(key);
      this.byKey.delete(key);
      this.idleSince.delete(key);
      this.pools[rec.family].free(rec.ip);
      this.log.info('vip_freed', { name: rec.name, ip: rec.ip, idle_ms: now - since });
    }
  }
}
