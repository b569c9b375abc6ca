/**
 * The node's view served at `GET /net/v1/metrics` (contracts/netmetrics.ts): the driver's counters
 * with the node's address, the driver's name, the time, and the named-VIP names the control plane
 * gave. A driver without metrics (or with them off) has none: the route answers 404 saying why.
 */
import type { NodeNetMetrics, Vip } from '../../contracts/index.js';
import type { L4lbDriver } from '../driver.js';
import { vipName } from './counters.js';

export async function nodeNetMetrics(node: string, driver: L4lbDriver, vips: Vip[], now: number): Promise<NodeNetMetrics | undefined> {
  const m = await driver.netMetrics?.();
  if (!m) return undefined;
  const names = new Map<string, string>();
  for (const v of vips) if (v.dns_name) names.set(vipName({ vip: v.ip, port: v.port, protocol: v.protocol }), v.dns_name);
  return {
    node,
    driver: driver.name,
    measures: m.measures,
    since: m.since,
    at: now,
    vips: m.vips.map((v) => {
      const name = names.get(v.vip);
      return name ? { vip: v.vip, name, backends: v.backends } : v;
    }),
  };
}
