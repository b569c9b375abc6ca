/**
 * Ensure-style link operations with `ip`: the bridge `m-<network>` on the host side, the veth
 * pair into the task namespace, the task's address and routes. Re-running any step is safe.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { hostCmd, hostIp, isExists, isMissing, lastJson, nsIp, run, type Host } from './run.js';
import { sha1Hex } from './sha1.js';

interface IpLink {
  ifname: string;
  address?: string;
  mtu?: number;
  master?: string;
  flags?: string[];
  operstate?: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** Host-side veth name: derived from the attachment so DEL needs no state. */
export function hostVethName(containerId: string, ifname: string): string {
  return 'sxv' + sha1Hex(`${containerId}/${ifname}`).slice(0, 11);
}

/** `addr replace` of a bridge or task address; IPv6 skips duplicate address detection (ours by allocation, usable at once). */
const addrLine = (cidr: string, dev: string): string => `addr replace ${cidr} dev ${dev}${cidr.includes(':') ? ' nodad' : ''}`;

export async function ensureBridge(host: Host, name: string, mtu: number, gatewayCidrs: string[]): Promise<IpLink> {
  const current = await run(hostIp(host, ['-j', 'addr', 'show', 'dev', name])).then(
    (out) => lastJson<IpLink[]>(out)[0],
    (e) => {
      if (isMissing(e)) return undefined;
      throw e;
    },
  );
  const hasAddr = gatewayCidrs.every((g) => current?.addr_info?.some((a) => `${a.local}/${a.prefixlen}` === g));
  if (current && hasAddr && current.flags?.includes('UP')) return current;
  if (!current) {
    await run(hostIp(host, ['link', 'add', name, 'mtu', String(mtu), 'type', 'bridge'])).catch((e) => {
      if (!isExists(e)) throw e;
    });
  }
  const batch = [...gatewayCidrs.map((g) => addrLine(g, name)), `link set dev ${name} up`];
  await run(hostIp(host, ['-batch', '-']), batch.join('\n') + '\n');
  return lastJson<IpLink[]>(await run(hostIp(host, ['-j', 'link', 'show', 'dev', name])))[0]!;
}

export interface VethSpec {
  hostVeth: string;
  bridge: string;
  netns: string;
  ifname: string;
  mtu: number;
  hairpin: boolean;
}

/**
 * Create the pair with the task end directly in the task namespace; returns the host end.
 * When the pair is already there (ADD run again) it is kept and re-attached, so the task keeps
 * its MAC and neighbours' caches stay valid; a half pair is replaced.
 */
export async function addVeth(host: Host, s: VethSpec): Promise<IpLink> {
  const attach = [
    `link set dev ${s.hostVeth} master ${s.bridge}`,
    s.hairpin ? `link set dev ${s.hostVeth} type bridge_slave hairpin on` : '',
    `link set dev ${s.hostVeth} up`,
    `link show dev ${s.hostVeth}`,
  ].filter(Boolean);
  const create = `link add ${s.hostVeth} mtu ${s.mtu} type veth peer name ${s.ifname} mtu ${s.mtu} netns ${s.netns}`;
  const go = (lines: string[]) => run(hostIp(host, ['-j', '-batch', '-']), lines.join('\n') + '\n');
  try {
    return lastJson<IpLink[]>(await go([create, ...attach]))[0]!;
  } catch (e) {
    if (!isExists(e)) throw e;
  }
  const peer = await run(nsIp(s.netns, ['-j', 'link', 'show', 'dev', s.ifname])).then(
    (o) => lastJson<IpLink[]>(o)[0],
    () => undefined,
  );
  const mine = await readHostLink(host, s.hostVeth);
  if (peer && mine) return lastJson<IpLink[]>(await go([`link set dev ${s.hostVeth} mtu ${s.mtu}`, ...attach]))[0]!;
  await delVeth(host, s.hostVeth, s.netns, s.ifname);
  return lastJson<IpLink[]>(await go([create, ...attach]))[0]!;
}

export interface BridgeSpec {
  name: string;
  mtu: number;
  /** The bridge's own addresses (when it is the gateway), e.g. 10.0.0.1/24 and fd01:b::1/81. */
  gatewayCidrs: string[];
}

/** Every `ip -j ... show` result printed by a batch, flattened. */
function shownLinks(stdout: string): IpLink[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('['))
    .flatMap((l) => JSON.parse(l) as IpLink[]);
}

/**
 * The whole host side of ADD in one `ip -batch`: bridge address and up, the pair with its task
 * end in the task namespace, the host end on the bridge. This is the common case (the bridge is
 * there, the pair is not); when any step fails (first ADD on this host, ADD run again, a half
 * pair) it falls back to the step-by-step ensure path, which repairs and reports as before.
 */
export async function attachHost(host: Host, br: BridgeSpec, s: VethSpec): Promise<{ bridge: IpLink; veth: IpLink }> {
  const lines = [
    ...br.gatewayCidrs.map((g) => addrLine(g, br.name)),
    `link set dev ${br.name} up`,
    `link show dev ${br.name}`,
    `link add ${s.hostVeth} mtu ${s.mtu} type veth peer name ${s.ifname} mtu ${s.mtu} netns ${s.netns}`,
    `link set dev ${s.hostVeth} master ${s.bridge}`,
    s.hairpin ? `link set dev ${s.hostVeth} type bridge_slave hairpin on` : '',
    `link set dev ${s.hostVeth} up`,
    `link show dev ${s.hostVeth}`,
  ].filter(Boolean);
  const fast = await run(hostIp(host, ['-j', '-batch', '-']), lines.join('\n') + '\n').then(shownLinks, () => undefined);
  const veth = fast?.find((l) => l.ifname === s.hostVeth);
  const bridge = fast?.find((l) => l.ifname === br.name);
  if (veth && bridge) return { bridge, veth };
  const slowBridge = await ensureBridge(host, br.name, br.mtu, br.gatewayCidrs);
  return { bridge: slowBridge, veth: await addVeth(host, s) };
}

export interface AddrSpec {
  netns: string;
  ifname: string;
  /** One address per family (dual-stack: IPv4 and IPv6). */
  cidrs: string[];
  routes: { dst: string; gw: string }[];
}

/** Addresses, link up and routes (both families) inside the task namespace; returns the task end. */
export async function configureTask(s: AddrSpec): Promise<IpLink> {
  const batch = [
    ...s.cidrs.map((c) => addrLine(c, s.ifname)),
    `link set dev ${s.ifname} up`,
    ...s.routes.map((r) => `route replace ${r.dst === '0.0.0.0/0' ? 'default' : r.dst} via ${r.gw} dev ${s.ifname}`),
    `link show dev ${s.ifname}`,
  ];
  return lastJson<IpLink[]>(await run(nsIp(s.netns, ['-j', '-batch', '-']), batch.join('\n') + '\n'))[0]!;
}

/** Remove the pair from either end; succeeds when it is already gone. */
export async function delVeth(host: Host, hostVeth: string, netns: string, ifname: string): Promise<void> {
  const gone = await run(hostIp(host, ['link', 'del', hostVeth])).then(
    () => true,
    (e) => {
      if (isMissing(e)) return false;
      throw e;
    },
  );
  if (gone || !netns) return;
  await run(nsIp(netns, ['link', 'del', ifname])).catch((e) => {
    if (!isMissing(e)) throw e;
  });
}

/** IPv4 forwarding on; IPv6 forwarding too when the network has an IPv6 range. */
export async function enableForwarding(host: Host, v6 = false): Promise<void> {
  const keys = v6 ? ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'] : ['net.ipv4.ip_forward'];
  if (host.netns) {
    await run(hostCmd(host, 'sysctl', ['-qw', ...keys.map((k) => `${k}=1`)]));
    return;
  }
  for (const k of keys) {
    const path = `/proc/sys/${k.replaceAll('.', '/')}`;
    if (readFileSync(path, 'utf8').trim() !== '1') writeFileSync(path, '1');
  }
}

/** What CHECK compares: the task end's addresses and routes (IPv6 ones too when it has a global IPv6 address), the host end's master. */
export async function readTask(netns: string, ifname: string): Promise<{ link?: IpLink; routes: { dst: string; gateway?: string; dev?: string }[] }> {
  const link = await run(nsIp(netns, ['-j', 'addr', 'show', 'dev', ifname])).then(
    (o) => lastJson<IpLink[]>(o)[0],
    () => undefined,
  );
  type R = { dst: string; gateway?: string; dev?: string };
  const routes = link ? lastJson<R[]>(await run(nsIp(netns, ['-j', 'route', 'show', 'dev', ifname]))) : [];
  if (link?.addr_info?.some((a) => a.family === 'inet6' && !a.local.startsWith('fe80:'))) {
    routes.push(...lastJson<R[]>(await run(nsIp(netns, ['-6', '-j', 'route', 'show', 'dev', ifname]))));
  }
  return { link, routes };
}

export async function readHostLink(host: Host, name: string): Promise<IpLink | undefined> {
  return run(hostIp(host, ['-j', 'link', 'show', 'dev', name])).then(
    (o) => lastJson<IpLink[]>(o)[0],
    () => undefined,
  );
}

/** Our host-side veths on a bridge (for GC). */
export async function bridgePorts(host: Host, bridge: string): Promise<string[]> {
  return run(hostIp(host, ['-j', 'link', 'show', 'master', bridge])).then(
    (o) => lastJson<IpLink[]>(o).map((l) => l.ifname).filter((n) => n.startsWith('sxv')),
    () => [],
  );
}
