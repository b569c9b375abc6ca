/**
 * CHECK: compares what ADD made with what is there now, and fails naming the first difference.
 */
import { CniError, CODES } from './errors.js';
import type { NetConf, IpamConf } from './config.js';
import { Allocator } from './ipam/allocator.js';
import { formatIp4 } from '../common/cidr.js';
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
  const alloc = new Allocator(ipam.dataDir, conf.name, ipam.range);
  const mine = (await alloc.list()).find((x) => x.containerId === a.containerId && x.ifname === a.ifname);
  if (!mine) throw fail(`no address allocated to ${a.containerId}/${a.ifname} in ${alloc.describe()}`);
  const cidr = `${mine.ip}/${ipam.range.subnet.len}`;
  const prev = conf.prevResult?.ips?.[0]?.address;
  if (prev !== undefined && prev !== cidr) throw fail(`prevResult has ${prev}, IPAM has ${cidr}`);
  const { link, routes } = await readTask(a.netns, a.ifname);
  if (!link) throw fail(`interface ${a.ifname} missing in ${a.netns}`);
  if (!link.flags?.includes('UP')) throw fail(`interface ${a.ifname} is down`);
  if (!link.addr_info?.some((x) => `${x.local}/${x.prefixlen}` === cidr)) throw fail(`interface ${a.ifname} lacks address ${cidr}`);
  if (link.mtu !== conf.mtu) throw fail(`interface ${a.ifname} has MTU ${link.mtu}, expected ${conf.mtu}`);
  const gw = formatIp4(ipam.range.gateway);
  for (const r of ipam.routes) {
    const dst = r.dst === '0.0.0.0/0' ? 'default' : r.dst;
    const via = r.gw ?? gw;
    if (!routes.some((x) => x.dst === dst && x.gateway === via)) throw fail(`route ${dst} via ${via} missing in ${a.netns}`);
  }
  const hv = await readHostLink(host, hostVethName(a.containerId, a.ifname));
  if (!hv) throw fail(`host veth ${hostVethName(a.containerId, a.ifname)} missing`);
  if (hv.master !== conf.bridge) throw fail(`host veth ${hv.ifname} is not on bridge ${conf.bridge}`);
  await checkPortmap(a, conf, host, mine.ip);
}

export async function checkChained(a: Args, conf: NetConf, host: Host): Promise<void> {
  const ip = conf.prevResult?.ips?.find((i) => !i.address.includes(':'));
  if (!conf.prevResult) throw new CniError(CODES.invalidConfig, 'prevResult: is required for CHECK of a chained plugin');
  if (!conf.portMappings.length) return;
  if (!ip) throw fail('prevResult has no IPv4 address');
  await checkPortmap(a, conf, host, ip.address.split('/')[0]!);
}
