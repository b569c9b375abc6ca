/**
 * The drain decision (`--vip-drain-failing`): what the VIP source serves, with every unhealthy
 * backend's weight at 0, but never the last live one: when every backend that the source gave a
 * weight > 0 is unhealthy, the one failing least keeps its weight (a VIP with a struggling backend
 * still answers sometimes; one with none never does). It also remembers the VIPs it was shown, so
 * the API can name their weights. With drain off it changes nothing and only remembers.
 */
import { backendName, vipNameOfKey, type DrainableVip, type VipDrain } from '../contracts/index.js';

export interface ServedBackend {
  /** The weight the control plane serves (after draining). */
  weight: number;
  /** Drained by this aggregator (the source gave it weight > 0). */
  drained: boolean;
  /** The source's own weight was 0 (Marathon health, killing). */
  draining_upstream: boolean;
}

export interface DrainOptions {
  enabled: boolean;
  /** Whether (VIP `IP:PORT/PROTO`, backend `IP:PORT`) is unhealthy, and how badly (failure rate) for choosing which to keep. */
  unhealthy(vip: string, backend: string): number | undefined;
}

export class DrainPolicy implements VipDrain {
  private readonly listeners = new Set<() => void>();
  /** By VIP (`IP:PORT/PROTO`): its name in the control plane and backends as served. */
  readonly served = new Map<string, { dns_name?: string; backends: Map<string, ServedBackend> }>();

  constructor(private readonly o: DrainOptions) {}

  get enabled(): boolean {
    return this.o.enabled;
  }

  apply<V extends DrainableVip>(vips: V[]): V[] {
    this.served.clear();
    return vips.map((v) => this.applyOne(v));
  }

  private applyOne<V extends DrainableVip>(v: V): V {
    const vip = vipNameOfKey(v.key);
    const rates = v.backends.map((b) => (b.weight > 0 ? this.o.unhealthy(vip, backendName(b.ip, b.port)) : undefined));
    let drain = rates.map((r) => this.o.enabled && r !== undefined);
    const live = v.backends.filter((b) => b.weight > 0).length;
    if (live > 0 && drain.filter(Boolean).length >= live) {
      // Every live backend fails: keep the one failing least.
      let keep = -1;
      rates.forEach((r, i) => {
        if (r !== undefined && (keep < 0 || r < rates[keep]!)) keep = i;
      });
      drain = drain.map((d, i) => d && i !== keep);
    }
    const backends = new Map<string, ServedBackend>();
    const out = v.backends.map((b, i) => {
      const weight = drain[i] ? 0 : b.weight;
      backends.set(backendName(b.ip, b.port), { weight, drained: drain[i]!, draining_upstream: b.weight === 0 });
      return weight === b.weight ? b : { ...b, weight };
    });
    const dns = (v as { dns_name?: unknown }).dns_name;
    this.served.set(vip, { ...(typeof dns === 'string' ? { dns_name: dns } : {}), backends });
    return drain.some(Boolean) ? { ...v, backends: out } : v;
  }

  /** The verdicts changed: the source rebuilds its entries (only matters with drain on). */
  changed(): void {
    if (this.o.enabled) this.listeners.forEach((fn) => fn());
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
