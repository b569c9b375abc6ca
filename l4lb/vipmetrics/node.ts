/**
 * The node's view served at `GET /net/v1/metrics` (contracts/netmetrics.ts): the driver's counters
 * with the node's address, the driver's name, the time, and the named-VIP names the control plane
 * gave. A driver without metrics (or with them off) has none: the route answers 404 saying why.
 *
 * The masters poll this every 5 s (issue #26): with a driver that reads in layout form (nftables)
 * the VIP entries are made once, named as they are made, and the name map is kept per VIP list.
 */
import type { NodeNetMetrics, Vip } from '../../contracts/index.js';
import type { L4lbDriver } from '../driver.js';
import { vipName } from './counters.js';
import { toVipMetrics } from './pair-layout.js';

/** VIP list -> VIP name -> named-VIP name (the reconciler hands the same list until the VIPs change). */
const namesOf = new WeakMap<Vip[], Map<string, string>>();

function names(vips: Vip[]): Map<string, string> {
  let m = namesOf.get(vips);
  if (m) return m;
  m = new Map();
  for (const v of vips) if (v.dns_name) m.set(vipName({ vip: v.ip, port: v.port, protocol: v.protocol }), v.dns_name);
  namesOf.set(vips, m);
  return m;
}

export async function nodeNetMetrics(node: string, driver: L4lbDriver, vips: Vip[], now: number): Promise<NodeNetMetrics | undefined> {
  if (driver.netCounts) {
    const c = await driver.netCounts();
    if (!c) return undefined;
    return { node, driver: driver.name, measures: c.measures, since: c.since, at: now, vips: toVipMetrics(c, names(vips)) };
  }
  const m = await driver.netMetrics?.();
  if (!m) return undefined;
  const named = names(vips);
  return {
    node,
    driver: driver.name,
    measures: m.measures,
    since: m.since,
    at: now,
    vips: m.vips.map((v) => {
      const name = named.get(v.vip);
      return name ? { vip: v.vip, name, backends: v.backends } : v;
    }),
  };
}
