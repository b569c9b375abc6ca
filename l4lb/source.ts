/**
 * Master side: the `vips` part of the control-plane snapshot. Reads the Mesos state through the
 * MasterHandle, derives VIPs (model.ts), gives named VIPs their central IP (allocator.ts) and
 * returns only VIPs that have backends. Bad labels are logged once each and kept for the API.
 */
import type { MasterHandle } from '../contracts/index.js';
import type { PartSource, Vip, VipDrain } from '../contracts/index.js';
import { systemClock, type Clock } from '../common/clock.js';
import { createLogger, type Logger } from '../common/log.js';
import { VipAllocator, type AllocatorOptions } from './allocator.js';
import { vipDnsName, vipsFromState, type LabelProblem, type VipSpec } from './model.js';

export interface VipSourceOptions extends AllocatorOptions {
  /** Mount `GET /v1/l4lb/vips` ({vips, problems}) on the master API (default true). */
  routes?: boolean;
  /** Failing backends to drain (weight 0), decided by the network metrics aggregator (`--vip-drain-failing`). */
  drain?: VipDrain;
}

export interface VipSource extends PartSource<'vips'> {
  /** Label problems found by the last `entries()` call. */
  problems(): LabelProblem[];
  readonly allocator: VipAllocator;
}

export function vipKey(protocol: string, ip: string, port: number): string {
  return `${protocol}/${ip}:${port}`;
}

/** Turn specs plus allocated IPs into snapshot entries; VIPs without backends are left out. */
export function toVips(specs: VipSpec[], ips: Map<string, string>): Vip[] {
  const out: Vip[] = [];
  for (const s of specs) {
    if (!s.backends.length) continue;
    const ip = s.ip ?? ips.get(`${s.label}.${s.framework}/${s.family}`);
    if (!ip) continue;
    const vip: Vip = { key: vipKey(s.protocol, ip, s.port), ip, port: s.port, protocol: s.protocol, backends: s.backends };
    if (s.label) Object.assign(vip, { name: `/${s.label}`, framework: s.framework, dns_name: vipDnsName(s.label, s.framework ?? '') });
    out.push(vip);
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function vipSource(handle: MasterHandle, opts: VipSourceOptions = {}): VipSource {
  const log: Logger = opts.log ?? createLogger('l4lb', { role: 'vip-source' });
  const clock: Clock = opts.clock ?? systemClock;
  // Named VIPs' IPv6 range: the option, else the master's configured one (SEXTANT_VIP_V6_RANGE).
  const v6Cidr = opts.v6Cidr ?? handle.addresses?.namedVipRanges?.[6];
  const allocator = new VipAllocator(handle.store, { ...opts, ...(v6Cidr ? { v6Cidr } : {}), log, clock });
  const listeners = new Set<() => void>();
  const reported = new Set<string>();
  let problems: LabelProblem[] = [];
  let last: Vip[] = [];
  let timer: unknown;

  const fire = () => listeners.forEach((fn) => fn());
  const scheduleExpiry = () => {
    if (timer !== undefined) clock.clearTimeout(timer);
    const ms = allocator.nextExpiryIn();
    timer = ms === undefined ? undefined : clock.setTimeout(fire, ms + 1);
  };

  const source: VipSource = {
    part: 'vips',
    allocator,
    problems: () => problems,
    async entries() {
      const { vips: specs, problems: found } = vipsFromState(handle.state());
      for (const p of found) {
        const id = `${p.where}|${p.key}|${p.value}`;
        if (!reported.has(id)) log.warn('vip_label_invalid', { ...p });
        reported.add(id);
      }
      // Literal-IP VIPs the master's address book refuses (records stored before validation, agents'
      // reports) are skipped and reported, never programmed; so is one that takes a named VIP's IP.
      const named_ips = new Set(allocator.allocations().map((a) => a.ip));
      const allowed = specs.filter((s) => {
        if (!s.ip) return true;
        const why = handle.addresses?.vipRefusal(s.ip) ?? (named_ips.has(s.ip) ? `${s.ip} is a named VIP's address` : undefined);
        if (!why) return true;
        const p = { where: `VIP ${s.id}`, key: 'VIP', value: `${s.ip}:${s.port}`, reason: why };
        found.push(p);
        const id = `${p.where}|${p.reason}`;
        if (!reported.has(id)) log.warn('vip_address_refused', { ...p });
        reported.add(id);
        return false;
      });
      problems = found;
      const named = new Map<string, { name: string; family: 4 | 6 }>();
      for (const s of allowed) if (s.label && s.backends.length) named.set(`${s.label}.${s.framework}/${s.family}`, { name: `${s.label}.${s.framework}`, family: s.family });
      const ips = await allocator.ensure([...named.values()]);
      scheduleExpiry();
      last = toVips(allowed, ips);
      if (opts.drain) last = opts.drain.apply(last);
      return last;
    },
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
  handle.onChange(fire);
  opts.drain?.onChange(fire);
  if (opts.routes !== false) {
    handle.routes((r) => r.get('/v1/l4lb/vips', () => ({ json: { vips: last, problems, allocations: allocator.allocations() } })));
  }
  return source;
}
