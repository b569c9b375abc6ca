/**
 * What one agent's kernel should hold, computed from the snapshot view (pure). Names of kernel
 * objects come from here: the vxlan device (`vtep1024`), bridges `m-<net>`, routing table 42.
 */
import { formatIp, hostAddr, parseCidr, parseIp } from '../common/index.js';
import type { OverlayAgent, Snapshot } from '../contracts/index.js';

export const OVERLAY_TABLE = 42;
/** Priority of the `from <network> lookup 42` rules (before main at 32766). */
export const RULE_PREF = 32000;
/** Underlay MTU minus the VXLAN overhead (50 bytes). */
export const VTEP_MTU = 1450;
/**
 * IPv6 addresses of the VTEPs (DC/OS's default `vtep_subnet_v6`). Derived, not allocated: an agent's
 * is this prefix + its IPv4 VTEP address in the low 32 bits, so it is as unique as the IPv4 one.
 */
export const VTEP_SUBNET6 = 'fd01:a::/64';

export interface DesiredLink {
  name: string;
  vni: number;
  port: number;
  mac: string;
  mtu: number;
  addr: string;
  /** IPv6 VTEP address (when a network has `subnet6`). */
  addr6?: string;
}
export interface DesiredBridge {
  name: string;
  network: string;
  mtu: number;
  addr: string;
  /** Gateway IPv6 address of the bridge's v6 half. */
  addr6?: string;
}
export interface Neigh {
  ip: string;
  mac: string;
}
export interface Fdb {
  mac: string;
  dst: string;
}
export interface Route {
  dst: string;
  via: string;
}

export interface DesiredState {
  vtep: DesiredLink;
  bridges: DesiredBridge[];
  neighs: Neigh[];
  fdbs: Fdb[];
  /** Main table, dev vtep onlink. */
  routes: Route[];
  /** `from <subnet> lookup 42`, and `from <subnet6> lookup 42` for networks with IPv6. */
  rules: string[];
  /** Table 42: `<agentIP>/32 via <vtepIP>`, and `<agentIP6>/128 via <vtepIP6>` for remotes with an IPv6 address. */
  table42: Route[];
  /** Overlay subnets by network (for nftables). */
  networks: { name: string; subnet: string; bridge: string; subnet6?: string }[];
}

export const bridgeName = (network: string): string => `m-${network}`;
const ipOf = (cidr: string): string => cidr.split('/')[0]!;

/** The IPv6 VTEP address of an agent (VTEP_SUBNET6 + its IPv4 VTEP address), no length. */
export function vtep6Of(vtepIp: string): string {
  const v4 = parseIp(ipOf(vtepIp))!.value;
  return formatIp(6, parseCidr(VTEP_SUBNET6)!.base + v4);
}

export class NotAllocatedError extends Error {
  override name = 'NotAllocatedError';
}

export function desiredState(view: Snapshot, agentId: string): DesiredState {
  const me = view.parts.overlay_agents.find((a) => a.agent_id === agentId);
  if (!me) throw new NotAllocatedError(`agent ${agentId} has no overlay allocation yet`);
  const nets = [...view.parts.networks].sort((a, b) => a.name.localeCompare(b.name));
  const remotes: OverlayAgent[] = view.parts.overlay_agents.filter((a) => a.agent_id !== agentId).sort((a, b) => a.vtep_ip.localeCompare(b.vtep_ip));
  const s: DesiredState = {
    vtep: { name: view.overlay.vtep_name, vni: view.overlay.vni, port: view.overlay.vxlan_port, mac: me.vtep_mac.toLowerCase(), mtu: VTEP_MTU, addr: me.vtep_ip },
    bridges: [],
    neighs: [],
    fdbs: [],
    routes: [],
    rules: [...nets.map((n) => n.subnet), ...nets.flatMap((n) => (n.subnet6 ? [n.subnet6] : []))],
    table42: [],
    networks: [],
  };
  const v6 = nets.some((n) => n.subnet6);
  if (v6) s.vtep.addr6 = `${vtep6Of(me.vtep_ip)}/${VTEP_SUBNET6.split('/')[1]}`;
  for (const n of nets) {
    const mine = me.subnets[n.name];
    if (!mine) continue;
    const b: DesiredBridge = { name: bridgeName(n.name), network: n.name, mtu: n.mtu, addr: hostAddr(parseCidr(mine.bridge)!, 1n) };
    if (mine.bridge6) b.addr6 = hostAddr(parseCidr(mine.bridge6)!, 1n);
    s.bridges.push(b);
    s.networks.push({ name: n.name, subnet: n.subnet, bridge: mine.bridge, ...(n.subnet6 ? { subnet6: n.subnet6 } : {}) });
  }
  for (const r of remotes) {
    const vtep = ipOf(r.vtep_ip);
    s.neighs.push({ ip: vtep, mac: r.vtep_mac.toLowerCase() });
    if (v6) s.neighs.push({ ip: vtep6Of(r.vtep_ip), mac: r.vtep_mac.toLowerCase() });
    s.fdbs.push({ mac: r.vtep_mac.toLowerCase(), dst: r.ip });
    for (const n of nets) {
      const sl = r.subnets[n.name];
      if (sl) s.routes.push({ dst: sl.subnet, via: vtep });
      if (sl?.subnet6) s.routes.push({ dst: sl.subnet6, via: vtep6Of(r.vtep_ip) });
    }
    s.table42.push({ dst: `${r.ip}/32`, via: vtep });
    // The IPv6 equivalent: a task's v6 traffic to a remote agent's IPv6 address goes through the
    // VXLAN too (the remote agent answers it the same way, from its VTEP's routes).
    if (v6 && r.ip6) s.table42.push({ dst: `${r.ip6}/128`, via: vtep6Of(r.vtep_ip) });
  }
  return s;
}
