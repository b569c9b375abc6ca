/**
 * The node's view served at `GET /net/v1/metrics` (contracts/netmetrics.ts): the driver's counters
 * with the node's address, the driver's name, the time, and the named-VIP names the control plane
 * gave. A driver without metrics (or with them off) has none: the route answers 404 saying why.
 *
 * The masters poll this every 5 s (issue #26): with a driver that reads in layout form (nftables)
 * the VIP entries are made once and named as they are made, the names by VIP index kept per layout
 * and VIP list.
 */
import type { NodeNetMetrics, Vip } from '../../contracts/index.js';
import type { L4lbDriver } from '../driver.js';
import { vipName } from './counters.js';
import { toVipMetrics, type PairLayout } from './pair-layout.js';

/** A layout's named-VIP names by VIP index, for the VIP list they were found in (an array, not a map of new strings). */
const layoutNames = new WeakMap<PairLayout, { vips: Vip[]; names: Array<string | undefined> }>();

function namesByIndex(layout: PairLayout, vips: Vip[]): Array<string | undefined> {
  const had = layoutNames.get(layout);
  if (had?.vips === vips) return had.names;
  const m = new Map<string, string>();
  for (const v of vips) if (v.dns_name) m.set(vipName({ vip: v.ip, port: v.port, protocol: v.protocol }), v.dns_name);
  const names = layout.vips.map((v) => m.get(v));
  layoutNames.set(layout, { vips, names });
  return names;
}

export async function nodeNetMetrics(node: string, driver: L4lbDriver, vips: Vip[], now: number): Promise<NodeNetMetrics | undefined> {
  if (driver.netCounts) {
    const c = await driver.netCounts();
    if (!c) return undefined;
    return { node, driver: driver.name, measures: c.measures, since: c.since, at: now, vips: toVipMetrics(c, namesByIndex(c.layout, vips)) };
  }
  const m = await driver.netMetrics?.();
  if (!m) return undefined;
  const named = new Map<string, string>();
  for (const v of vips) if (v.dns_name) named.set(vipName({ vip: v.ip, port: v.port, protocol: v.protocol }), v.dns_name);
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
