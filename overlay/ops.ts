/**
 * The overlay's kernel plan as data: diff.ts produces `Op[]`, and each driver executes it its own
 * way (kernel.ts renders `ip`/`bridge` batch text, netlink.ts sends rtnetlink requests). The set
 * is closed: exactly what the planner needs, each op an idempotent ensure or a delete of an object
 * the overlay owns. Comments give the iproute2 equivalent.
 */

/** The kernel's main routing table (RT_TABLE_MAIN). */
export const MAIN_TABLE = 254;

export type Op =
  /** `ip link add NAME type vxlan id VNI dstport PORT nolearning noudpcsum` (see README for noudpcsum). */
  | { op: 'vxlan.add'; name: string; vni: number; port: number }
  /** `ip link add NAME type bridge`. */
  | { op: 'bridge.add'; name: string }
  /** `ip link set NAME [address MAC] mtu MTU [up]`. */
  | { op: 'link.set'; name: string; mac?: string; mtu: number; up: boolean }
  /** `ip link del NAME`. */
  | { op: 'link.del'; name: string }
  /** `ip addr replace CIDR dev DEV [nodad]` (nodad: IPv6 without duplicate address detection). */
  | { op: 'addr.replace'; dev: string; cidr: string; nodad: boolean }
  /** `ip addr del CIDR dev DEV`. */
  | { op: 'addr.del'; dev: string; cidr: string }
  /** `ip neigh replace IP lladdr MAC dev DEV nud permanent`. */
  | { op: 'neigh.replace'; dev: string; ip: string; mac: string }
  /** `ip neigh del IP dev DEV`. */
  | { op: 'neigh.del'; dev: string; ip: string }
  /** `ip route replace DST via VIA dev DEV onlink [table T]` (the gateway is on the device's link, no subnet needed). */
  | { op: 'route.replace'; dst: string; via: string; dev: string; table: number }
  /** `ip route del DST [dev DEV] [table T]`. */
  | { op: 'route.del'; dst: string; dev?: string; table: number }
  /** `ip rule add from SRC lookup TABLE pref PREF`. */
  | { op: 'rule.add'; src: string; table: number; pref: number }
  /** `ip rule del from SRC lookup TABLE pref PREF`. */
  | { op: 'rule.del'; src: string; table: number; pref: number }
  /** `bridge fdb replace MAC dev DEV dst IP self permanent` (the VXLAN device's own forwarding table). */
  | { op: 'fdb.replace'; dev: string; mac: string; dst: string }
  /** `bridge fdb del MAC dev DEV dst IP self`. */
  | { op: 'fdb.del'; dev: string; mac: string; dst: string };

/** Ops that create, change or delete a device or its addresses (later ops need the devices). */
export const isLinkOp = (o: Op): boolean => o.op.startsWith('vxlan.') || o.op.startsWith('bridge.') || o.op.startsWith('link.') || o.op.startsWith('addr.');

export const isDelete = (o: Op): boolean => o.op.endsWith('.del');
