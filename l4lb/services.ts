/** Helpers shared by every driver: canonical service keys, sorting and service-level diffs. */
import ipaddr from 'ipaddr.js';
import type { Protocol, Vip } from '../contracts/index.js';
import type { ApplyResult, Backend, Service } from './driver.js';

export function serviceKey(protocol: Protocol, vip: string, port: number): string {
  return `${protocol}/${vip}:${port}`;
}

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Canonical address text (RFC 5952 for IPv6), so kernel dumps and desired state compare equal. */
export function canonicalIp(ip: string): string {
  if (V4.test(ip)) return ip;
  return ipaddr.parse(ip).toString();
}

const byBackend = (a: Backend, b: Backend) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1);

/** Canonical form: keys rebuilt, addresses canonical, backends and services sorted. */
export function normalize(services: Service[]): Service[] {
  return services.map(normalizeOne).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function normalizeOne(s: Service): Service {
  const vip = canonicalIp(s.vip);
  const backends = s.backends.map((b) => ({ ip: canonicalIp(b.ip), port: b.port, weight: b.weight })).sort(byBackend);
  return { key: serviceKey(s.protocol, vip, s.port), vip, port: s.port, protocol: s.protocol, backends };
}

/** Equal backend lists; both must be normalized (sorted). */
export function sameBackends(a: Backend[], b: Backend[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((v, i) => v.ip === b[i]!.ip && v.port === b[i]!.port && v.weight === b[i]!.weight);
}

/** Counts of services added, removed and changed going from `before` to `after`. */
export function diffServices(before: Service[] | Map<string, Service>, after: Service[]): ApplyResult {
  const old = before instanceof Map ? before : new Map(before.map((s) => [s.key, s]));
  const res: ApplyResult = { added: 0, removed: 0, changed: 0 };
  const seen = new Set<string>();
  for (const s of after) {
    seen.add(s.key);
    const o = old.get(s.key);
    if (!o) res.added++;
    else if (!sameBackends(o.backends, s.backends)) res.changed++;
  }
  for (const k of old.keys()) if (!seen.has(k)) res.removed++;
  return res;
}

/**
 * Snapshot VIPs -> driver services (VIPs without backends are not programmed). With `reuse`, a VIP
 * object seen before gives the same Service object as then: snapshot entries are immutable (the
 * agent's held view replaces an entry it receives again), so an unchanged VIP costs a lookup here
 * and a pointer comparison in the driver, and only new or changed VIPs are normalized. `reuse` is
 * either a map from VIP objects to their services, or the services this function returned last
 * (sorted by key): then a VIP whose key is there and whose backend list that service holds (a
 * canonical VIP lends its own: the same list is the same VIP object) gets it back, found by a walk
 * in key order, with no table beside (a weak map of 10,000 VIPs held 0.26 MB; issue #26); a
 * non-canonical VIP then gets a new (equal) service each time.
 */
export function servicesFromVips(vips: Vip[], reuse?: WeakMap<Vip, Service> | readonly Service[]): Service[] {
  const out: Service[] = [];
  const byVip = reuse instanceof WeakMap ? reuse : undefined;
  const last = Array.isArray(reuse) ? (reuse as readonly Service[]) : undefined;
  let j = 0;
  for (const v of vips) {
    if (v.backends.length === 0) continue;
    let s = byVip?.get(v);
    if (last) {
      while (j < last.length && last[j]!.key < v.key) j++;
      const had = last[j];
      if (had && had.key === v.key && had.backends === v.backends) s = had;
    }
    if (!s) {
      // A VIP already in canonical form (the master's are: backends sorted, addresses canonical) lends
      // its own backend list: the service holds no copy of it (30,000 objects at 10,000 VIPs x 3).
      // The extra fields (task and agent ids) are never read by a driver; entries are never mutated.
      if (canonicalVip(v)) s = { key: v.key, vip: v.ip, port: v.port, protocol: v.protocol, backends: v.backends };
      else {
        s = normalizeOne({ key: v.key, vip: v.ip, port: v.port, protocol: v.protocol, backends: v.backends.map((b) => ({ ip: b.ip, port: b.port, weight: b.weight })) });
        if (s.key === v.key) s.key = v.key; // the VIP's own string, not a second copy (10,000 at 10,000 VIPs)
      }
      byVip?.set(v, s);
    }
    out.push(s);
  }
  // Snapshots list entries sorted by key, which is the service key: usually nothing to sort.
  for (let i = 1; i < out.length; i++) if (out[i - 1]!.key >= out[i]!.key) return out.sort(byKey);
  return out;
}

/** The VIP's key, address and backends are what normalizeOne would make of them. */
function canonicalVip(v: Vip): boolean {
  if (canonicalIp(v.ip) !== v.ip || serviceKey(v.protocol, v.ip, v.port) !== v.key) return false;
  const bs = v.backends;
  for (let i = 0; i < bs.length; i++) {
    const b = bs[i]!;
    if (typeof b.weight !== 'number' || canonicalIp(b.ip) !== b.ip) return false;
    if (i > 0 && byBackend(bs[i - 1]!, b) > 0) return false;
  }
  return true;
}

const byKey = (a: Service, b: Service) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
