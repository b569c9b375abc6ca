/**
 * The (VIP, backend) pairs a VIP metrics read reports, in the order it reports them (VIP name, then
 * backend name), built once per change of the programmed services and kept across reads (issue
 * #26): a read then costs what the kernel counted (a `PairCounts` per counted pair) plus a walk
 * over the VIPs, not a map and an entry per programmed backend. A pair never counted is zero
 * without an object of its own. `toVipMetrics` makes the contract's `VipMetrics[]` from it (the
 * objects `GET /net/v1/metrics` serializes); the Prometheus series read the counts directly
 * (prometheus.ts), with their labels worked out once per layout.
 */
import type { BackendMetrics, NetMetricsMeasures, VipMetrics } from '../../contracts/netmetrics.js';
import type { Service } from '../driver.js';
import { backendName, vipName } from './counters.js';

/** What a read counted for one pair (`vip`: the layout's VIP index). */
export interface PairCounts {
  vip: number;
  connections: number;
  failures: number;
  bytes: number;
}

/** A read in layout form: counts only for pairs that have some; every other pair of `layout` is zero. */
export interface NetCounts {
  measures: NetMetricsMeasures;
  since: number;
  layout: PairLayout;
  /** Pair index -> counts. */
  counts: Map<number, PairCounts>;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class PairLayout {
  /** VIP names (`IP:PORT/PROTO`), sorted. */
  readonly vips: string[];
  /** The pairs of VIP i are start[i] .. start[i + 1] - 1. */
  readonly start: Int32Array;
  /** Backend name (`IP:PORT`) of each pair, sorted within a VIP. */
  readonly backends: string[];
  /** For a layout of services: service index -> VIP index. */
  readonly serviceVip?: Int32Array;
  private byName?: Map<string, number>;

  private constructor(entries: Array<{ vip: string; backends: string[] }>, serviceVip?: Int32Array) {
    this.vips = entries.map((e) => e.vip);
    this.start = new Int32Array(entries.length + 1);
    this.backends = [];
    entries.forEach((e, i) => {
      this.start[i] = this.backends.length;
      for (const b of e.backends) this.backends.push(b);
    });
    this.start[entries.length] = this.backends.length;
    this.serviceVip = serviceVip;
  }

  /** The programmed services' pairs (backends named once per distinct address and port). */
  static ofServices(live: Service[]): PairLayout {
    const names = new Map<string, Map<number, string>>();
    const intern = (ip: string, port: number): string => {
      let m = names.get(ip);
      if (!m) names.set(ip, (m = new Map()));
      let s = m.get(port);
      if (s === undefined) m.set(port, (s = backendName({ ip, port })));
      return s;
    };
    const entries = live.map((s, i) => ({ vip: vipName(s), backends: sortedUnique(s.backends.map((b) => intern(b.ip, b.port))), i }));
    entries.sort((a, b) => cmp(a.vip, b.vip));
    const serviceVip = new Int32Array(live.length);
    entries.forEach((e, j) => (serviceVip[e.i] = j));
    return new PairLayout(entries, serviceVip);
  }

  /** This layout with `extra` pairs (retained flows of backends no longer programmed) added. */
  withExtra(extra: Array<{ vip: string; backend: string }>): PairLayout {
    const by = new Map<string, string[]>();
    this.vips.forEach((v, i) => by.set(v, this.backends.slice(this.start[i]!, this.start[i + 1]!)));
    for (const e of extra) {
      const l = by.get(e.vip);
      if (l) l.push(e.backend);
      else by.set(e.vip, [e.backend]);
    }
    const entries = [...by].map(([vip, backends]) => ({ vip, backends: sortedUnique(backends) }));
    return new PairLayout(entries.sort((a, b) => cmp(a.vip, b.vip)));
  }

  get pairs(): number {
    return this.backends.length;
  }

  /** The index of a VIP by name, -1 when absent. */
  vipIndex(name: string): number {
    if (!this.byName) {
      this.byName = new Map();
      this.vips.forEach((v, i) => this.byName!.set(v, i));
    }
    return this.byName.get(name) ?? -1;
  }

  /** The pair index of (VIP index, backend name), -1 when absent (binary search: backends are sorted). */
  pairIndex(vip: number, backend: string): number {
    if (vip < 0) return -1;
    let lo = this.start[vip]!;
    let hi = this.start[vip + 1]! - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = this.backends[mid]!;
      if (b === backend) return mid;
      if (b < backend) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

function sortedUnique(list: string[]): string[] {
  list.sort(cmp);
  let n = 0;
  for (let i = 0; i < list.length; i++) if (i === 0 || list[i] !== list[n - 1]) list[n++] = list[i]!;
  list.length = n;
  return list;
}

/**
 * The contract's form as the nftables counters give it: every pair of the layout, zeros included
 * (connections and failures; bytes when measured), and the named-VIP name where `names` (VIP name
 * -> name, or by VIP index) has one.
 */
export function toVipMetrics(c: NetCounts, names?: Map<string, string> | Array<string | undefined>): VipMetrics[] {
  const { layout, counts } = c;
  const withBytes = c.measures.bytes;
  const out: VipMetrics[] = [];
  for (let i = 0; i < layout.vips.length; i++) {
    const end = layout.start[i + 1]!;
    if (end === layout.start[i]) continue; // a service with no backend: no entry, as before
    const backends: BackendMetrics[] = [];
    for (let p = layout.start[i]!; p < end; p++) {
      const n = counts.get(p);
      const backend = layout.backends[p]!;
      backends.push(withBytes ? { backend, connections: n?.connections ?? 0, failures: n?.failures ?? 0, bytes: n?.bytes ?? 0 } : { backend, connections: n?.connections ?? 0, failures: n?.failures ?? 0 });
    }
    const vip = layout.vips[i]!;
    const name = Array.isArray(names) ? names[i] : names?.get(vip);
    out.push(name ? { vip, name, backends } : { vip, backends });
  }
  return out;
}

/**
 * The layout of a list of programmed services, with what the nftables read looks up in it: which
 * service a counted flow (VIP address, protocol, backend) belongs to, the first in the list (the
 * lowest port) when several send to the backend. Kept while the services stay the same objects.
 */
export class ServicesLayout {
  readonly layout: PairLayout;
  /** VIP address -> the indices of its services (in list order); made at the first counted flow. */
  private byIp?: Map<string, number | number[]>;
  /** The last layout with retained pairs added, and which pairs (NftCounters). */
  extra?: { sig: string; layout: PairLayout };

  constructor(public live: Service[]) {
    this.layout = PairLayout.ofServices(live);
  }

  /** The index in `live` of the service the flow goes to, -1 when none (no programmed VIP sends there). */
  flowService(live: Service[], vipIp: string, protocol: string, backend: string): number {
    if (!this.byIp) {
      const m = new Map<string, number | number[]>();
      live.forEach((s, i) => {
        const had = m.get(s.vip);
        if (had === undefined) m.set(s.vip, i);
        else if (typeof had === 'number') m.set(s.vip, [had, i]);
        else had.push(i);
      });
      this.byIp = m;
    }
    const at = this.byIp.get(vipIp);
    if (at === undefined) return -1;
    const colon = backend.lastIndexOf(':');
    const ip = backend.startsWith('[') ? backend.slice(1, colon - 1) : backend.slice(0, colon);
    const port = Number(backend.slice(colon + 1));
    const sends = (i: number) => live[i]!.protocol === protocol && live[i]!.backends.some((b) => b.port === port && b.ip === ip);
    if (typeof at === 'number') return sends(at) ? at : -1;
    for (const i of at) if (sends(i)) return i;
    return -1;
  }
}

/** The same service objects in the same order. */
export function sameServices(a: Service[], b: Service[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
