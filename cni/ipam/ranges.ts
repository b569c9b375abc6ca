/**
 * The IPAM ranges of a config as allocators: one per range set (dual-stack: one IPv4 and one
 * IPv6 range, as host-local takes them), their gateways, and the addresses `CNI_ARGS` asks for.
 */
import { formatIp } from '../../common/cidr.js';
import type { IpamConf, NetConf } from '../config.js';
import { Allocator } from './allocator.js';

/** One allocator per range set (dual-stack: IPv4 and IPv6), over the network's one store. */
export function allocatorsFor(conf: NetConf, ipam: IpamConf): Allocator[] {
  return ipam.ranges.map((r, i) => new Allocator(ipam.dataDir, conf.name, r, {}, i));
}

/** `CNI_ARGS` `IP=a[,b]` (host-local's form): the requested address of a family, if any. */
export function requestedOf(args: Record<string, string>, family: 4 | 6): string | undefined {
  const list = args.IP?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
  return list.find((ip) => ip.includes(':') === (family === 6));
}

/** The gateway of the family `dst` is in (a route's default next hop). */
export function gatewayFor(ipam: IpamConf, dst: string): string {
  const fam = dst.includes(':') ? 6 : 4;
  const r = ipam.ranges.find((x) => x.subnet.family === fam)!;
  return formatIp(fam, r.gateway);
}
