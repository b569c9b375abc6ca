/**
 * A namespace's overlay-relevant kernel state as iproute2 reports it (`ip -d -j link`, `ip -j
 * addr`, `ip -j route show table all` for both families, `ip -j neigh`, `bridge -j fdb`, `ip -j
 * rule` for both families), normalized to sorted text lines so two namespaces compare with
 * `t.same` and a difference reads like `ip` output. Independent of both drivers: this is how the
 * contract checks what they did. Left out as noise: IPv6 link-local and multicast addresses and
 * routes (MAC-derived, or added when DAD ends), bridge MACs and the bridges' own fdb entries
 * (random until a port joins).
 */
import type { Netns } from '../../test/lib/index.js';

export interface KernelView {
  links: string[];
  addrs: string[];
  routes: string[];
  neighs: string[];
  fdb: string[];
  rules: string[];
}

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const noise = (ip: string | undefined): boolean => !!ip && /^(fe80|ff0)/i.test(ip);
const sorted = (xs: string[]): string[] => [...new Set(xs)].sort();

async function json(ns: Netns, cmd: string, ...args: string[]): Promise<J[]> {
  const out = await ns.exec(cmd, ['-j', ...args]);
  return out.trim() ? (JSON.parse(out) as J[]) : [];
}

export function linkLine(l: J): string {
  const kind = l.linkinfo?.info_kind as string | undefined;
  const d = l.linkinfo?.info_data as J | undefined;
  const up = (l.flags as string[]).includes('UP') ? 'up' : 'down';
  let s = `${l.ifname} ${kind ?? 'none'} mtu ${l.mtu} ${up}`;
  if (kind === 'vxlan') s += ` id ${d?.id} dstport ${d?.port} learning ${d?.learning} udp_csum ${d?.udp_csum} address ${String(l.address).toLowerCase()}`;
  return s;
}

export async function readKernel(ns: Netns): Promise<KernelView> {
  const [links, addrs, routes4, routes6, neighs, fdb, rules4, rules6] = await Promise.all([
    json(ns, 'ip', '-d', 'link', 'show'),
    json(ns, 'ip', 'addr', 'show'),
    json(ns, 'ip', '-4', 'route', 'show', 'table', 'all'),
    json(ns, 'ip', '-6', 'route', 'show', 'table', 'all'),
    json(ns, 'ip', 'neigh', 'show'),
    json(ns, 'bridge', 'fdb', 'show'),
    json(ns, 'ip', '-4', 'rule', 'show'),
    json(ns, 'ip', '-6', 'rule', 'show'),
  ]);
  const v: KernelView = { links: [], addrs: [], routes: [], neighs: [], fdb: [], rules: [] };
  for (const l of links) v.links.push(linkLine(l));
  for (const a of addrs) for (const ai of (a.addr_info as J[]) ?? []) if (!noise(ai.local)) v.addrs.push(`${a.ifname} ${ai.local}/${ai.prefixlen}${ai.nodad ? ' nodad' : ''}`);
  for (const r of [...routes4, ...routes6]) {
    if (noise(r.dst)) continue;
    const parts = [`table ${r.table ?? 'main'}`, r.type ?? 'unicast', r.dst, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : '', `proto ${r.protocol ?? 'boot'}`, `scope ${r.scope ?? 'global'}`];
    if (r.metric !== undefined) parts.push(`metric ${r.metric}`);
    if ((r.flags as string[] | undefined)?.length) parts.push((r.flags as string[]).join(','));
    v.routes.push(parts.filter(Boolean).join(' '));
  }
  for (const n of neighs) if (!noise(n.dst)) v.neighs.push(`${n.dst} dev ${n.dev} lladdr ${String(n.lladdr ?? '').toLowerCase()} ${((n.state as string[]) ?? []).join(',')}`);
  const bridges = new Set(links.filter((l) => l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname as string));
  for (const f of fdb) if (!bridges.has(f.ifname) && f.master === undefined) v.fdb.push([f.mac, `dev ${f.ifname}`, f.dst ? `dst ${f.dst}` : '', ...((f.flags as string[]) ?? []), f.state ?? ''].filter(Boolean).join(' '));
  for (const r of [...rules4, ...rules6]) v.rules.push(`${r.priority} from ${r.src}${r.srclen !== undefined ? `/${r.srclen}` : ''} lookup ${r.table}`);
  return { links: sorted(v.links), addrs: sorted(v.addrs), routes: sorted(v.routes), neighs: sorted(v.neighs), fdb: sorted(v.fdb), rules: sorted(v.rules) };
}
