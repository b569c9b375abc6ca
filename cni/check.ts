/**
 * CHECK: compares what ADD made with what is there now, and fails naming the first difference.
 */
import { CniError, CODES } from './errors.js';
import type { NetConf, IpamConf } from './config.js';
import { allocatorsFor, gatewayFor } from './ipam/ranges.js';
import type { Host } from './net/run.js';
import { hostVethName, readHostLink, readTask } from './net/link.js';
import { chainName, readPortmap } from './net/portmap.js';
import type { CniEnv } from './spec.js';

type Args = Pick<CniEnv, 'containerId' | 'netns' | 'ifname'>;

const fail = (what: string) => new CniError(CODES.checkFailed, `CHECK failed: ${what}`);

async function checkPortmap(a: Args, conf: NetConf, host: Host, taskIp: string): Promise<void> {
  const want = conf.portMappings.map((m) => `${m.protocol}/${m.hostPort}->${taskIp}:${m.containerPort}`).sort();
  const have = (await readPortmap(host, chainName(conf.name, a.containerId, a.ifname))).sort();
  if (want.join() !== have.join()) throw fail(`port mappings are [${have.join(', ')}], expected [${want.join(', ')}]`);
}

export async function checkStandalone(a: Args, conf: NetConf, ipam: IpamConf, host: Host): Promise<void> {
  const cidrs: string[] = [];
  for (const al of allocatorsFor(conf, ipam)) {
    const mine = (await al.list()).find((x) => x.containerId === a.containerId && x.ifname === a.ifname);
    if (!mine) throw fail(`no address allocated to ${a.containerId}/${a.ifname} in ${al.describe()}`);
    cidrs.push(`${mine.ip}/${al.range.subnet.len}`);
  }
  const prev = conf.prevResult?.ips?.map((i) => i.address);
  if (prev !== undefined && prev.length > 0 && [...prev].sort().join() !== [...cidrs].sort().join()) throw fail(`prevResult has ${prev.join(', ')}, IPAM has ${cidrs.join(', ')}`);
  const { link, routes } = await readTask(a.netns, a.ifname);
  if (!link) throw fail(`interface ${a.ifname} missing in ${a.netns}`);
  if (!link.flags?.includes('UP')) throw fail(`interface ${a.ifname} is down`);
  for (const cidr of cidrs) if (!link.addr_info?.some((x) => `${x.local}/${x.prefixlen}` === cidr)) throw fail(`interface ${a.ifname} lacks address ${cidr}`);
  if (link.mtu !== conf.mtu) throw fail(`interface ${a.ifname} has MTU ${link.mtu}, expected ${conf.mtu}`);
  for (const r of ipam.routes) {
    const dst = r.dst === '0.0.0.0/0' || r.dst === '::/0' ? 'default' : r.dst;
    const via = r.gw ?? gatewayFor(ipam, r.dst);
    if (!routes.some((x) => x.dst === dst && x.gateway === via)) throw fail(`route ${dst} via ${via} missing in ${a.netns}`);
  }
  const hv = await readHostLink(host, hostVethName(a.containerId, a.ifname));
  if (!hv) throw fail(`host veth ${hostVethName(a.containerId, a.ifname)} missing`);
  if (hv.master !== conf.bridge) throw fail(`host veth ${hv.ifname} is not on bridge ${conf.bridge}`);
  const v4 = cidrs.find((c) => !c.includes(':'));
  await checkPortmap(a, conf, host, v4?.split('/')[0] ?? '');
}

export async function checkChained(a: Args, conf: NetConf, host: Host): Promise<void> {
  const ip = conf.prevResult?.ips?.find((i) => !i.address.includes(':'));
  if (!conf.prevResult) throw new CniError(CODES.invalidConfig, 'prevResult: is required for CHECK of a chained plugin');
  if (!conf.portMappings.length) return;
  if (!ip) throw fail('prevResult has no IPv4 address');
  await checkPortmap(a, conf, host, ip.address.split('/')[0]!);
}
