/**
 * The rtnetlink driver: the same plan as the iproute2 driver (diff.ts lines, parsed by ops.ts),
 * applied with the `netlink` package on a socket of the current network namespace (a netlink
 * socket belongs to the namespace of the process that opened it: the agent runs inside its node's
 * namespace). nftables stays `nft -f`; sysctls are written to /proc/sys directly.
 */
import { writeFile } from 'node:fs/promises';
import ipaddr from 'ipaddr.js';
import { AttrStream, createRtNetlink, FlagsNew, ifla, type RtNetlinkSocket, type StreamData } from 'netlink';
import { OVERLAY_TABLE } from './desired.js';
import { KernelError } from './errors.js';
import { IprouteDriver, type KernelDriver, type KernelState } from './kernel.js';
import { parseLine, type Op } from './ops.js';

const AF_INET = 2;
const AF_INET6 = 10;
const AF_BRIDGE = 7;
const MAIN = 254;
const RTNH_F_ONLINK = 4;
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

const benign = (op: Op, e: unknown): boolean => op.verb === 'del' && /ENOENT|ESRCH|ENODEV|EADDRNOTAVAIL/.test(String((e as Error).message));

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

  private ifindex(name: string, line: string): number {
    const i = this.index.get(name);
    if (i === undefined) throw new KernelError(line, `no device "${name}"`);
    return i;
  }

  async dump(vtep: string): Promise<KernelState> {
    const rt = this.rt();
    // One dump at a time: a netlink socket runs a single dump (parallel ones interleave).
    const dumps = async () => [await rt.getLinks(), await rt.getAddresses(), await rt.getNeighbors({ family: AF_INET }), await rt.getNeighbors({ family: AF_INET6 }), await rt.getNeighbors({ family: AF_BRIDGE }), await rt.getRoutes({ family: AF_INET }), await rt.getRoutes({ family: AF_INET6 }), await rt.getRules({ family: AF_INET })] as const;
    const [links, addrs, neighs4, neighs6, fdbs, routes4, routes6, rules] = await dumps().catch((e: Error) => {
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
    for (const n of neighs) if (n.data.ifindex === vidx && n.data.state?.permanent && n.attrs.lladdr) state.neighs.push({ ip: ipText(n.attrs.dst)!, mac: macText(n.attrs.lladdr) });
    for (const f of fdbs) if (f.data.ifindex === vidx && f.attrs.dst) state.fdbs.push({ mac: macText(f.attrs.lladdr), dst: ipText(f.attrs.dst)! });
    for (const r of routes) {
      const table = r.attrs.table ?? r.data.table;
      const gw = ipText(r.attrs.gateway);
      if (!gw || !r.data.dstLen) continue;
      const dst = `${ipText(r.attrs.dst)}/${r.data.dstLen}`;
      if (table === MAIN && r.attrs.oif === vidx) state.routes.push({ dst, via: gw });
      else if (table === OVERLAY_TABLE) state.table42.push({ dst, via: gw });
    }
    for (const r of rules) {
      const table = r.attrs.table ?? r.data.table;
      if (table === OVERLAY_TABLE && r.attrs.src) state.rules.push({ src: `${ipText(r.attrs.src)}/${r.data.srcLen}`, pref: r.attrs.priority ?? 0 });
    }
    return state;
  }

  /**
   * Links and addresses in order, one request at a time (later lines need the devices); then
   * neighbours, routes, rules and fdb entries pipelined, WINDOW requests in flight. Every line is
   * tried (like `-force`); the failures are reported together.
   */
  async apply(ipLines: string[], bridgeLines: string[]): Promise<void> {
    const lines = [...ipLines, ...bridgeLines];
    if (!lines.length) return;
    const ops = lines.map((l) => parseLine(l));
    const failed: string[] = [];
    const run = async (op: Op, line: string): Promise<void> => {
      try {
        await this.one(op, line);
      } catch (e) {
        if (!benign(op, e)) failed.push(`${line}: ${(e as Error).message}`);
      }
    };
    await this.refreshIndex();
    let i = 0;
    for (; i < ops.length && (ops[i]!.obj === 'link' || ops[i]!.obj === 'addr'); i++) {
      await run(ops[i]!, lines[i]!);
      if (ops[i]!.obj === 'link' && ops[i]!.verb !== 'set') await this.refreshIndex();
    }
    for (; i < ops.length; i += WINDOW) await Promise.all(ops.slice(i, i + WINDOW).map((op, j) => run(op, lines[i + j]!)));
    if (failed.length) throw new KernelError(`netlink (${failed.length} of ${lines.length} failed)`, failed.slice(0, 5).join('; '));
  }

  private async one(op: Op, line: string): Promise<void> {
    const rt = this.rt();
    switch (op.obj) {
      case 'link':
        return this.link(op, line);
      case 'addr': {
        const [ip, len] = splitCidr(op.cidr);
        const fam = familyOf(ip);
        const data = { family: fam, prefixlen: len, index: this.ifindex(op.dev, line) };
        const attrs = fam === AF_INET ? { local: bytes(ip), address: bytes(ip) } : { address: bytes(ip) };
        if (op.verb === 'del') await rt.delAddress(data, attrs);
        else await rt.newAddress(op.nodad ? { ...data, flags: { nodad: true } } : data, attrs, { flags: NEW });
        return;
      }
      case 'neigh': {
        const data = { family: familyOf(op.ip), ifindex: this.ifindex(op.dev, line), state: { permanent: true as const } };
        if (op.verb === 'del') await rt.delNeighbor(data, { dst: bytes(op.ip) });
        else await rt.newNeighbor(data, { dst: bytes(op.ip), lladdr: macBytes(op.mac!) }, { flags: NEW });
        return;
      }
      case 'fdb': {
        const data = { family: AF_BRIDGE, ifindex: this.ifindex(op.dev, line), state: { permanent: true as const }, flags: { self: true as const } };
        const attrs = { lladdr: macBytes(op.mac), dst: bytes(op.dst) };
        if (op.verb === 'del') await rt.delNeighbor(data, attrs);
        else await rt.newNeighbor(data, attrs, { flags: NEW });
        return;
      }
      case 'route': {
        const [ip, len] = splitCidr(op.dst);
        const base = { family: familyOf(ip), dstLen: len, table: op.table < 256 ? op.table : 252 };
        const attrs = { dst: bytes(ip), table: op.table, ...(op.dev ? { oif: this.ifindex(op.dev, line) } : {}) };
        if (op.verb === 'del') await rt.delRoute({ ...base, scope: SCOPE_NOWHERE }, attrs);
        else await rt.newRoute({ ...base, protocol: 3, scope: 0, type: 1, flags: { __unknown: RTNH_F_ONLINK } }, { ...attrs, gateway: bytes(op.via!) }, { flags: NEW });
        return;
      }
      case 'rule': {
        const [ip, len] = splitCidr(op.src);
        const data = { family: familyOf(ip), srcLen: len, table: op.table < 256 ? op.table : 252, action: FR_ACT_TO_TBL };
        const attrs = { src: bytes(ip), priority: op.pref, table: op.table };
        if (op.verb === 'del') await rt.delRule(data, attrs);
        else await rt.newRule(data, attrs, { flags: FlagsNew.CREATE | FlagsNew.EXCL });
        return;
      }
    }
  }

  private async link(op: Extract<Op, { obj: 'link' }>, line: string): Promise<void> {
    const rt = this.rt();
    if (op.verb === 'del') {
      await rt.delLink({ index: this.ifindex(op.name, line) });
    } else if (op.verb === 'add') {
      const linkinfo = op.kind === 'vxlan' ? vxlanInfo(op.vni!, op.port!) : encode(ifla.formatInfo({ kind: op.kind ?? 'bridge' }));
      await rt.newLink({}, { ifname: op.name, linkinfo }, { flags: FlagsNew.CREATE | FlagsNew.EXCL });
    } else {
      const attrs = { ...(op.mac ? { address: macBytes(op.mac) } : {}), ...(op.mtu ? { mtu: op.mtu } : {}) };
      await rt.setLink({ index: this.ifindex(op.name, line), ...(op.up ? { flags: { up: true }, change: { up: true } } : {}) }, attrs);
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
