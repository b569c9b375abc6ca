/**
 * The node-side objects the IPVS data plane needs besides the virtual services: the dummy
 * interface (`minuteman`) whose local routes make VIPs local addresses, `net.ipv4.vs.conntrack=1`
 * (so netfilter NAT sees IPVS flows) and a MASQUERADE rule for IPVS flows, which makes hairpin
 * traffic (a client that is also the chosen backend) return through the node.
 *
 * With the node's own IPv4 address (`nodeIp`, the agent's address) the VIP routes prefer it as
 * source, so a client on the node itself connects from that address rather than from the VIP; its
 * replies find their way back from any backend, so those flows skip the MASQUERADE (a RETURN rule
 * before it): the backend sees the same node address either way, without a second NAT per packet.
 * Without a usable `nodeIp` (not given, loopback, or not an address here) every IPVS flow is
 * masqueraded, as in DC/OS.
 *
 * The masquerade rule uses the xtables `ipvs` match in a chain Sextant owns (`SEXTANT-IPVS`):
 * nftables has no native IPVS match, and User-Mode-Linux kernels ship without nf_tables for ip.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { run } from '../../common/index.js';

export type Runner = (cmd: string, args: string[], input?: string) => Promise<string>;

export const MASQ_CHAIN = 'SEXTANT-IPVS';
const CONNTRACK_SYSCTL = '/proc/sys/net/ipv4/vs/conntrack';

/** The real runner (common/proc): rejects with the command and its stderr. */
export const execRunner: Runner = async (cmd, args, input) => (await run([cmd, ...args], { input })).stdout;

export interface HostOptions {
  iface: string;
  /** `ip` binary. */
  ip: string;
  /** iptables binary for the hairpin rule; false: no rule. */
  iptables: string | false;
  /** The node's own IPv4 address (see above). */
  nodeIp?: string;
  run: Runner;
}

/** The local routes on the interface: `ok` have the source address wanted, `all` includes those that do not. */
export interface LocalRoutes {
  ok: Set<string>;
  all: Set<string>;
}

const MASQ_RULE = ['-m', 'ipvs', '--ipvs', '--vdir', 'ORIGINAL', '--vmethod', 'MASQ', '-m', 'comment', '--comment', 'sextant l4lb ipvs hairpin', '-j', 'MASQUERADE'];
const sourceRule = (ip: string) => ['-s', `${ip}/32`, '-m', 'ipvs', '--ipvs', '--vdir', 'ORIGINAL', '--vmethod', 'MASQ', '-m', 'comment', '--comment', 'sextant l4lb ipvs node source', '-j', 'RETURN'];
const quoted = (rule: string[]) => rule.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ');

export class IpvsHost {
  /** The source address VIP routes prefer and whose flows skip MASQUERADE; undefined: none (see ensureSource). */
  source?: string;

  constructor(private readonly o: HostOptions) {}

  /**
   * Whether `nodeIp` can be the VIP routes' source: IPv4, not loopback, an address in this
   * namespace. Returns the reason when it was given and cannot (then every flow is masqueraded).
   */
  async ensureSource(): Promise<string | undefined> {
    const ip = this.o.nodeIp;
    this.source = undefined;
    if (!ip) return undefined;
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || ip.startsWith('127.')) return `nodeIp ${ip} is not a non-loopback IPv4 address`;
    const addrs = JSON.parse((await this.o.run(this.o.ip, ['-j', '-4', 'addr', 'show'])) || '[]') as { addr_info?: { local?: string }[] }[];
    if (!addrs.some((l) => l.addr_info?.some((a) => a.local === ip))) return `nodeIp ${ip} is not an address in this network namespace`;
    this.source = ip;
    return undefined;
  }

  /** The dummy interface, up. An existing one is fine. */
  async ensureInterface(): Promise<void> {
    const flags = await readFile(`/sys/class/net/${this.o.iface}/flags`, 'utf8').catch(() => '');
    if (flags && (parseInt(flags, 16) & 1) === 1) return; // exists and IFF_UP: no process to spawn
    try {
      await this.o.run(this.o.ip, ['link', 'add', this.o.iface, 'type', 'dummy']);
    } catch (e) {
      if (!/exists/i.test((e as Error).message)) throw e;
    }
    await this.o.run(this.o.ip, ['link', 'set', this.o.iface, 'up']);
  }

  /** Returns true when it had to change the value. */
  async ensureConntrack(): Promise<boolean> {
    const v = (await readFile(CONNTRACK_SYSCTL, 'utf8')).trim();
    if (v === '1') return false;
    await writeFile(CONNTRACK_SYSCTL, '1\n');
    return true;
  }

  /**
   * Chain, jump from nat POSTROUTING and the rule, each added only when missing. IPv6 (`family` 6)
   * uses the ip6tables of the same flavour (`iptables-legacy` -> `ip6tables-legacy`) and has no
   * node-source rule: every IPv6 IPVS flow is masqueraded.
   */
  async ensureMasquerade(family: 4 | 6 = 4): Promise<void> {
    const ipt = this.o.iptables === false ? false : family === 6 ? this.o.iptables.replace(/iptables/, 'ip6tables') : this.o.iptables;
    if (!ipt) return;
    const run = (...a: string[]) => this.o.run(ipt, ['-w', '-t', 'nat', ...a]);
    // One listing answers the common case (all in place) with a single process.
    const listing = await run('-S').catch(() => '');
    const jump = listing.includes(`-A POSTROUTING -j ${MASQ_CHAIN}`);
    const rules = listing.split('\n').filter((l) => l.startsWith(`-A ${MASQ_CHAIN} `));
    const want = [...(this.source && family === 4 ? [sourceRule(this.source)] : []), MASQ_RULE];
    const matches = (line: string, r: string[]) => (r[0] === '-s' ? line.includes(`-s ${this.source}/32`) && line.includes('-j RETURN') : line.includes('--vmethod MASQ') && line.includes('-j MASQUERADE'));
    const same = rules.length === want.length && want.every((r, i) => matches(rules[i]!, r));
    if (jump && same) return;
    // The chain is rewritten whole, in one transaction: its rules' order matters (RETURN first).
    const lines = ['*nat', `:${MASQ_CHAIN} - [0:0]`, ...want.map((r) => `-A ${MASQ_CHAIN} ${quoted(r)}`)];
    if (!jump) lines.push(`-A POSTROUTING -j ${MASQ_CHAIN}`);
    await this.o.run(`${ipt}-restore`, ['-w', '--noflush'], [...lines, 'COMMIT', ''].join('\n'));
  }

  /** VIPs that have a local route on the interface (IPv4 and IPv6); none when it is missing. */
  async localRoutes(): Promise<LocalRoutes> {
    const out: LocalRoutes = { ok: new Set(), all: new Set() };
    for (const fam of ['-4', '-6']) {
      let text: string;
      try {
        text = await this.o.run(this.o.ip, [fam, '-j', 'route', 'show', 'table', 'local', 'dev', this.o.iface]);
      } catch (e) {
        if (/cannot find device/i.test((e as Error).message)) return out;
        throw e;
      }
      for (const r of JSON.parse(text || '[]') as { type?: string; dst?: string; prefsrc?: string }[]) {
        if (r.type !== 'local' || !r.dst) continue;
        const vip = r.dst.replace(/\/(32|128)$/, '');
        out.all.add(vip);
        if (r.prefsrc === (fam === '-4' ? this.source : undefined)) out.ok.add(vip);
      }
    }
    return out;
  }

  /** Add and delete local routes in one `ip -batch` (deleting a missing route is fine). */
  async setRoutes(add: string[], del: string[]): Promise<void> {
    if (!add.length && !del.length) return;
    const src = (v: string) => (this.source && !v.includes(':') ? ` src ${this.source}` : '');
    const r = (op: string, v: string) => `route ${op} local ${v}/${v.includes(':') ? 128 : 32} dev ${this.o.iface} table local${op === 'del' ? '' : src(v)}\n`;
    const script = add.map((v) => r('replace', v)).join('') + del.map((v) => r('del', v)).join('');
    try {
      await this.o.run(this.o.ip, ['-force', '-batch', '-'], script);
    } catch (e) {
      // -force keeps going past a missing route; only additions matter, so verify them.
      const now = await this.localRoutes();
      const missing = add.filter((v) => !now.ok.has(v));
      if (missing.length) throw new Error(`local routes not added for ${missing.slice(0, 5).join(', ')}: ${(e as Error).message}`);
    }
  }
}
