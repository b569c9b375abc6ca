/**
 * Kernel access for the agent side, behind one small interface (`KernelDriver`: dump, apply an
 * `Op[]` plan, nftables, sysctls). This is the iproute2 driver: `ip`/`bridge` in batch mode (the
 * plan rendered by batch.ts), JSON dumps, and `nft -f`, inside a target network namespace (or the
 * current one), each through common/proc. netlink.ts is the other driver; README "Kernel access" says which runs when.
 */
import { run } from '../common/index.js';
import { KernelError } from './errors.js';
import type { Fdb, Neigh, Route } from './desired.js';
import { OVERLAY_TABLE } from './desired.js';
import { renderBatch } from './batch.js';
import type { Op } from './ops.js';

export interface KernelLink {
  name: string;
  kind?: string;
  vni?: number;
  port?: number;
  learning?: boolean;
  mac: string;
  mtu: number;
  up: boolean;
  addrs: string[];
}

export interface KernelState {
  links: Map<string, KernelLink>;
  neighs: Neigh[];
  fdbs: Fdb[];
  routes: Route[];
  rules: { src: string; pref: number }[];
  table42: Route[];
}

export interface KernelDriver {
  dump(vtepName: string): Promise<KernelState>;
  /** Execute a plan in order; resolves only when every op succeeded (what still runs after a failing op differs: README). */
  apply(ops: Op[]): Promise<void>;
  /** Run `nft -f -` with the given text; `nft -j list table` for reading. */
  nft(text: string): Promise<void>;
  nftJson(args: string[]): Promise<unknown>;
  sysctl(key: string, value: string): Promise<void>;
  /** Release sockets (the netlink driver); optional. */
  close?(): void;
}

/** One command through common/proc, in the driver's namespace; failures become KernelErrors. */
async function exec(netns: string | undefined, argv: string[], input?: string): Promise<{ stdout: string }> {
  try {
    return await run(argv, { netns, input, timeoutMs: 30000 });
  } catch (e) {
    throw new KernelError(argv.slice(0, 5).join(' '), (e as Error).message.slice(0, 2000));
  }
}

const json = (s: string): unknown[] => (s.trim() ? (JSON.parse(s) as unknown[]) : []);
type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const withLen = (dst: string, fam = 4): string => (dst.includes('/') ? dst : `${dst}/${fam === 4 ? 32 : 128}`);

/** The iproute2 + nft driver; `netns` undefined means the current namespace. */
export class IprouteDriver implements KernelDriver {
  constructor(readonly netns?: string) {}

  private run(argv: string[], input?: string): Promise<{ stdout: string }> {
    return exec(this.netns, argv, input);
  }
  private ipj(...args: string[]): Promise<J[]> {
    return this.run(['ip', '-j', ...args]).then((r) => json(r.stdout) as J[]);
  }

  async dump(vtep: string): Promise<KernelState> {
    const [links, addrs, neighs, fdbs, routes, routes6, t42, t42v6, rules, rules6] = await Promise.all([
      this.ipj('-d', 'link', 'show'),
      this.ipj('addr', 'show'),
      this.ipj('neigh', 'show', 'dev', vtep).catch(() => []),
      this.run(['bridge', '-j', 'fdb', 'show', 'dev', vtep]).then((r) => json(r.stdout) as J[]).catch(() => []),
      this.ipj('route', 'show', 'dev', vtep).catch(() => []),
      this.ipj('-6', 'route', 'show', 'dev', vtep).catch(() => []),
      this.ipj('route', 'show', 'table', String(OVERLAY_TABLE)).catch(() => []),
      this.ipj('-6', 'route', 'show', 'table', String(OVERLAY_TABLE)).catch(() => []),
      this.ipj('rule', 'show'),
      this.ipj('-6', 'rule', 'show').catch(() => []),
    ]);
    const state: KernelState = { links: new Map(), neighs: [], fdbs: [], routes: [], rules: [], table42: [] };
    for (const l of links) {
      const info = l.linkinfo as J | undefined;
      const d = info?.info_data as J | undefined;
      state.links.set(l.ifname, {
        name: l.ifname,
        kind: info?.info_kind,
        vni: d?.id,
        port: d?.port,
        learning: d?.learning,
        mac: String(l.address ?? '').toLowerCase(),
        mtu: l.mtu,
        up: (l.flags as string[]).includes('UP'),
        addrs: [],
      });
    }
    for (const a of addrs) {
      const link = state.links.get(a.ifname);
      if (link) for (const ai of (a.addr_info as J[]) ?? []) if (ai.scope !== 'link') link.addrs.push(`${ai.local}/${ai.prefixlen}`);
    }
    for (const n of neighs) if ((n.state as string[] | undefined)?.includes('PERMANENT') && n.lladdr) state.neighs.push({ ip: n.dst, mac: String(n.lladdr).toLowerCase() });
    for (const f of fdbs) if (f.dst) state.fdbs.push({ mac: String(f.mac).toLowerCase(), dst: f.dst });
    for (const r of routes) if (r.gateway && r.dst !== 'default') state.routes.push({ dst: withLen(r.dst), via: r.gateway });
    for (const r of routes6) if (r.gateway && r.dst !== 'default') state.routes.push({ dst: withLen(r.dst, 6), via: r.gateway });
    for (const r of t42) if (r.gateway) state.table42.push({ dst: withLen(r.dst), via: r.gateway });
    for (const r of t42v6) if (r.gateway) state.table42.push({ dst: withLen(r.dst, 6), via: r.gateway });
    for (const r of rules) if (String(r.table) === String(OVERLAY_TABLE) && r.src) state.rules.push({ src: `${r.src}/${r.srclen ?? 32}`, pref: r.priority });
    for (const r of rules6) if (String(r.table) === String(OVERLAY_TABLE) && r.src) state.rules.push({ src: `${r.src}/${r.srclen ?? 128}`, pref: r.priority });
    return state;
  }

  /** The plan rendered to one `ip -batch` and one `bridge -batch` (`-force`: later lines are still tried, except after a failed `ip neigh`). */
  async apply(ops: Op[]): Promise<void> {
    const { ip: all, bridge: bridgeLines } = renderBatch(ops);
    // `-6 rule ...` lines (IPv6 policy rules) need `ip -6`, which a batch line cannot say: a second batch.
    const ipLines = all.filter((l) => !l.startsWith('-6 '));
    const ip6Lines = all.filter((l) => l.startsWith('-6 ')).map((l) => l.slice(3));
    if (ipLines.length) await this.run(['ip', '-force', '-batch', '-'], ipLines.join('\n') + '\n');
    if (ip6Lines.length) await this.run(['ip', '-6', '-force', '-batch', '-'], ip6Lines.join('\n') + '\n');
    if (bridgeLines.length) await this.run(['bridge', '-force', '-batch', '-'], bridgeLines.join('\n') + '\n');
  }

  async nft(text: string): Promise<void> {
    await this.run(['nft', '-f', '-'], text);
  }

  async nftJson(args: string[]): Promise<unknown> {
    return JSON.parse((await this.run(['nft', '-j', ...args])).stdout);
  }

  async sysctl(key: string, value: string): Promise<void> {
    await this.run(['sysctl', '-qw', `${key}=${value}`]);
  }
}
