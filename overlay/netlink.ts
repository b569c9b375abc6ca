/**
 * The rtnetlink driver: executes the planner's `Op[]` directly as rtnetlink requests with the
 * `netlink` package (no iproute2, no text), on a socket of the current network namespace (a
 * netlink socket belongs to the namespace of the process that opened it: the agent runs inside
 * its node's namespace). nftables stays `nft -f`; sysctls are written to /proc/sys directly.
 */
import { writeFile } from 'node:fs/promises';
import ipaddr from 'ipaddr.js';
// The netlink package's parts, not its index: the index also loads its nl80211 (Wi-Fi) and WireGuard
// structs, about 0.3 MB of heap in every agent (issue #26).
import { AttrStream, type StreamData } from 'netlink/dist/structs.js';
import { FlagsNew } from 'netlink/dist/constants.js';
import { createRtNetlink, type RtNetlinkSocket } from 'netlink/dist/rt/rt.js';
import * as ifla from 'netlink/dist/rt/ifla.js';
import { OVERLAY_TABLE } from './desired.js';
import { KernelError } from './errors.js';
import { IprouteDriver, type KernelDriver, type KernelState } from './kernel.js';
import { opText } from './batch.js';
import { isDelete, isLinkOp, MAIN_TABLE, type Op } from './ops.js';

const AF_INET = 2;
const AF_INET6 = 10;
const AF_BRIDGE = 7;
const RT_TABLE_COMPAT = 252;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;
const RTNH_F_ONLINK = 4;
const SCOPE_UNIVERSE = 0;
const SCOPE_LINK = 253;
const SCOPE_NOWHERE = 255;
const FR_ACT_TO_TBL = 1;
const NEW = FlagsNew.CREATE | FlagsNew.REPLACE;
/** Kernel requests in flight at once for neighbours, routes, rules and fdb entries. */
const WINDOW = 64;

const bytes = (ip: string): Buffer => Buffer.from(ipaddr.parse(ip).toByteArray());
const familyOf = (ip: string): number => (ip.includes(':') ? AF_INET6 : AF_INET);
const ipText = (b: Buffer | undefined): string | undefined => (b && (b.length === 4 || b.length === 16) ? ipaddr.fromByteArray([...b]).toString() : undefined);
const macBytes = (mac: string): Buffer => Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
const macText = (b: Buffer | undefined): string => (b ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : '');
const u16be = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);

function splitCidr(cidr: string): [string, number] {
  const [ip, len] = cidr.split('/');
  return [ip!, len === undefined ? (ip!.includes(':') ? 128 : 32) : Number(len)];
}

/** An attribute stream (what the package's format* helpers return) as one buffer. */
function encode(data: StreamData): Buffer {
  const s = new AttrStream();
  s.emit(data);
  return Buffer.concat(s.bufs);
}

/** `ip link add NAME type vxlan id VNI dstport PORT nolearning noudpcsum`. */
export function vxlanInfo(vni: number, port: number): Buffer {
  return encode(ifla.formatInfo({ kind: 'vxlan', data: encode(ifla.formatVxlan({ id: vni, port: u16be(port), learning: 0, udpCsum: 0 })) }));
}

const benign = (o: Op, e: unknown): boolean => isDelete(o) && /ENOENT|ESRCH|ENODEV|EADDRNOTAVAIL/.test(String((e as Error).message));
/** Ops that create or delete a device: the name -> index map is read again after them. */
const changesIndex = (o: Op): boolean => o.op === 'vxlan.add' || o.op === 'bridge.add' || o.op === 'link.del';

export class NetlinkDriver implements KernelDriver {
  readonly kind = 'netlink';
  private sock?: RtNetlinkSocket;
  private readonly shell = new IprouteDriver();
  private index = new Map<string, number>();

  private rt(): RtNetlinkSocket {
    this.sock ??= createRtNetlink({ recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 } as never);
    return this.sock;
  }

  close(): void {
    this.sock?.socket.close();
    this.sock = undefined;
  }

  private async refreshIndex(): Promise<void> {
    const links = await this.rt().getLinks();
    this.index = new Map(links.map((l) => [l.attrs.ifname ?? '', l.data.index ?? 0]));
  }

  private ifindex(name: string): number {
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`no device "${name}"`);
    return i;
  }

  async dump(vtep: string): Promise<KernelState> {
    const rt = this.rt();
    // One dump at a time: a netlink socket runs a single dump (parallel ones interleave).
    const dumps = async () => [await rt.getLinks(), await rt.getAddresses(), await rt.getNeighbors({ family: AF_INET }), await rt.getNeighbors({ family: AF_INET6 }), await rt.getNeighbors({ family: AF_BRIDGE }), await rt.getRoutes({ family: AF_INET }), await rt.getRoutes({ family: AF_INET6 }), await rt.getRules({ family: AF_INET }), await rt.getRules({ family: AF_INET6 })] as const;
    const [links, addrs, neighs4, neighs6, fdbs, routes4, routes6, rules4, rules6] = await dumps().catch((e: Error) => {
      throw new KernelError('netlink dump', e.message);
    });
    const state: KernelState = { links: new Map(), neighs: [], fdbs: [], routes: [], rules: [], table42: [] };
    const byIndex = new Map<number, string>();
    for (const l of links) {
      const name = l.attrs.ifname ?? '';
      byIndex.set(l.data.index ?? 0, name);
      const info = l.attrs.linkinfo ? ifla.parseInfo(l.attrs.linkinfo) : undefined;
      const vx = info?.kind === 'vxlan' && info.data ? ifla.parseVxlan(info.data) : undefined;
      state.links.set(name, {
        name,
        kind: info?.kind,
        vni: vx?.id,
        port: vx?.port ? vx.port.readUInt16BE(0) : undefined,
        learning: vx ? vx.learning === 1 : undefined,
        mac: macText(l.attrs.address),
        mtu: l.attrs.mtu ?? 0,
        up: Boolean(l.data.flags?.up),
        addrs: [],
      });
    }
    this.index = new Map([...byIndex].map(([i, n]) => [n, i]));
    for (const a of addrs) {
      const link = state.links.get(byIndex.get(a.data.index ?? -1) ?? '');
      const ip = ipText(a.attrs.local ?? a.attrs.address);
      if (link && ip && a.data.scope !== SCOPE_LINK) link.addrs.push(`${ip}/${a.data.prefixlen}`);
    }
    const vidx = this.index.get(vtep);
    const neighs = [...neighs4, ...neighs6];
    const routes = [...routes4, ...routes6];
    const rules = [...rules4, ...rules6];
    for (const n of neighs) if (n.data.ifindex === vidx && n.data.state?.permanent && n.attrs.lladdr) state.neighs.push({ ip: ipText(n.attrs.dst)!, mac: macText(n.attrs.lladdr) });
    for (const f of fdbs) if (f.data.ifindex === vidx && f.attrs.dst) state.fdbs.push({ mac: macText(f.attrs.lladdr), dst: ipText(f.attrs.dst)! });
    for (const r of routes) {
      const table = r.attrs.table ?? r.data.table;
      const gw = ipText(r.attrs.gateway);
      if (!gw || !r.data.dstLen) continue;
      const dst = `${ipText(r.attrs.dst)}/${r.data.dstLen}`;
      if (table === MAIN_TABLE && r.attrs.oif === vidx) state.routes.push({ dst, via: gw });
      else if (table === OVERLAY_TABLE) state.table42.push({ dst, via: gw });
    }
    for (const r of rules) {
      const table = r.attrs.table ?? r.data.table;
      if (table === OVERLAY_TABLE && r.attrs.src) state.rules.push({ src: `${ipText(r.attrs.src)}/${r.data.srcLen}`, pref: r.attrs.priority ?? 0 });
    }
    return state;
  }

  /**
   * Links and addresses in order, one request at a time (later ops need the devices); then
   * neighbours, routes, rules and fdb entries pipelined, WINDOW requests in flight. Every op is
   * tried (like iproute2's `-force`); the failures are reported together, each named by its
   * iproute2 form. Deleting an object that is already gone is not a failure.
   */
  async apply(ops: Op[]): Promise<void> {
    if (!ops.length) return;
    const failed: string[] = [];
    const run = async (o: Op): Promise<void> => {
      try {
        await this.one(o);
      } catch (e) {
        if (!benign(o, e)) failed.push(`${opText(o)}: ${(e as Error).message}`);
      }
    };
    await this.refreshIndex();
    let i = 0;
    for (; i < ops.length && isLinkOp(ops[i]!); i++) {
      await run(ops[i]!);
      if (changesIndex(ops[i]!)) await this.refreshIndex();
    }
    for (; i < ops.length; i += WINDOW) await Promise.all(ops.slice(i, i + WINDOW).map(run));
    if (failed.length) throw new KernelError(`netlink (${failed.length} of ${ops.length} failed)`, failed.slice(0, 5).join('; '));
  }

  private async one(o: Op): Promise<void> {
    const rt = this.rt();
    switch (o.op) {
      case 'vxlan.add':
        await rt.newLink({}, { ifname: o.name, linkinfo: vxlanInfo(o.vni, o.port) }, { flags: FlagsNew.CREATE | FlagsNew.EXCL });
        return;
      case 'bridge.add':
        await rt.newLink({}, { ifname: o.name, linkinfo: encode(ifla.formatInfo({ kind: 'bridge' })) }, { flags: FlagsNew.CREATE | FlagsNew.EXCL });
        return;
      case 'link.set': {
        const attrs = { ...(o.mac !== undefined ? { address: macBytes(o.mac) } : {}), mtu: o.mtu };
        await rt.setLink({ index: this.ifindex(o.name), ...(o.up ? { flags: { up: true }, change: { up: true } } : {}) }, attrs);
        return;
      }
      case 'link.del':
        await rt.delLink({ index: this.ifindex(o.name) });
        return;
      case 'addr.replace':
      case 'addr.del': {
        const [ip, len] = splitCidr(o.cidr);
        const fam = familyOf(ip);
        const data = { family: fam, prefixlen: len, index: this.ifindex(o.dev) };
        const attrs = fam === AF_INET ? { local: bytes(ip), address: bytes(ip) } : { address: bytes(ip) };
        if (o.op === 'addr.del') await rt.delAddress(data, attrs);
        else await rt.newAddress(o.nodad ? { ...data, flags: { nodad: true } } : data, attrs, { flags: NEW });
        return;
      }
      case 'neigh.replace':
      case 'neigh.del': {
        const data = { family: familyOf(o.ip), ifindex: this.ifindex(o.dev), state: { permanent: true as const } };
        if (o.op === 'neigh.del') await rt.delNeighbor(data, { dst: bytes(o.ip) });
        else await rt.newNeighbor(data, { dst: bytes(o.ip), lladdr: macBytes(o.mac) }, { flags: NEW });
        return;
      }
      case 'fdb.replace':
      case 'fdb.del': {
        const data = { family: AF_BRIDGE, ifindex: this.ifindex(o.dev), state: { permanent: true as const }, flags: { self: true as const } };
        const attrs = { lladdr: macBytes(o.mac), dst: bytes(o.dst) };
        if (o.op === 'fdb.del') await rt.delNeighbor(data, attrs);
        else await rt.newNeighbor(data, attrs, { flags: NEW });
        return;
      }
      case 'route.replace':
      case 'route.del': {
        const [ip, len] = splitCidr(o.dst);
        const base = { family: familyOf(ip), dstLen: len, table: o.table < 256 ? o.table : RT_TABLE_COMPAT };
        const attrs = { dst: bytes(ip), table: o.table, ...(o.dev !== undefined ? { oif: this.ifindex(o.dev) } : {}) };
        if (o.op === 'route.del') await rt.delRoute({ ...base, scope: SCOPE_NOWHERE }, attrs);
        else await rt.newRoute({ ...base, protocol: RTPROT_BOOT, scope: SCOPE_UNIVERSE, type: RTN_UNICAST, flags: { __unknown: RTNH_F_ONLINK } }, { ...attrs, gateway: bytes(o.via) }, { flags: NEW });
        return;
      }
      case 'rule.add':
      case 'rule.del': {
        const [ip, len] = splitCidr(o.src);
        const data = { family: familyOf(ip), srcLen: len, table: o.table < 256 ? o.table : RT_TABLE_COMPAT, action: FR_ACT_TO_TBL };
        const attrs = { src: bytes(ip), priority: o.pref, table: o.table };
        if (o.op === 'rule.del') await rt.delRule(data, attrs);
        else await rt.newRule(data, attrs, { flags: FlagsNew.CREATE | FlagsNew.EXCL });
        return;
      }
    }
  }

  nft(text: string): Promise<void> {
    return this.shell.nft(text);
  }

  nftJson(args: string[]): Promise<unknown> {
    return this.shell.nftJson(args);
  }

  async sysctl(key: string, value: string): Promise<void> {
    await writeFile(`/proc/sys/${key.replace(/\./g, '/')}`, value).catch((e: Error) => {
      throw new KernelError(`sysctl ${key}`, e.message);
    });
  }
}
