/**
 * The node-side objects the IPVS data plane needs besides the virtual services: the dummy
 * interface (`minuteman`) whose local routes make VIPs local addresses, `net.ipv4.vs.conntrack=1`
 * (so netfilter NAT sees IPVS flows) and a MASQUERADE rule for IPVS flows, which makes hairpin
 * traffic (a client that is also the chosen backend) return through the node.
 *
 * The masquerade rule uses the xtables `ipvs` match in a chain Sextant owns (`SEXTANT-IPVS`):
 * nftables has no native IPVS match, and User-Mode-Linux kernels ship without nf_tables for ip.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';

export type Runner = (cmd: string, args: string[], input?: string) => Promise<string>;

export const MASQ_CHAIN = 'SEXTANT-IPVS';
const CONNTRACK_SYSCTL = '/proc/sys/net/ipv4/vs/conntrack';

export const execRunner: Runner = (cmd, args, input) =>
  new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.slice(0, 6).join(' ')}: ${err.trim() || `exit ${code}`}`))));
    if (input !== undefined) {
      p.stdin!.on('error', () => undefined); // the exit status tells what went wrong
      p.stdin!.end(input);
    }
  });

export interface HostOptions {
  iface: string;
  /** `ip` binary. */
  ip: string;
  /** iptables binary for the hairpin rule; false: no rule. */
  iptables: string | false;
  run: Runner;
}

export class IpvsHost {
  constructor(private readonly o: HostOptions) {}

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

  /** Chain, jump from nat POSTROUTING and the rule, each added only when missing. */
  async ensureMasquerade(): Promise<void> {
    const ipt = this.o.iptables;
    if (!ipt) return;
    const run = (...a: string[]) => this.o.run(ipt, ['-w', '-t', 'nat', ...a]);
    // One listing answers the common case (all in place) with a single process.
    const listing = await run('-S').catch(() => '');
    if (listing.includes(`-A POSTROUTING -j ${MASQ_CHAIN}`) && new RegExp(`-A ${MASQ_CHAIN} .*--vmethod MASQ.*-j MASQUERADE`).test(listing)) return;
    try {
      await run('-N', MASQ_CHAIN);
    } catch (e) {
      if (!/exists/i.test((e as Error).message)) throw e;
    }
    const ensure = async (chain: string, rule: string[]) => {
      try {
        await run('-C', chain, ...rule);
      } catch {
        await run('-A', chain, ...rule);
      }
    };
    await ensure('POSTROUTING', ['-j', MASQ_CHAIN]);
    await ensure(MASQ_CHAIN, ['-m', 'ipvs', '--ipvs', '--vdir', 'ORIGINAL', '--vmethod', 'MASQ', '-m', 'comment', '--comment', 'sextant l4lb ipvs hairpin', '-j', 'MASQUERADE']);
  }

  /** VIPs that have a local route on the interface (IPv4 and IPv6); none when it is missing. */
  async localRoutes(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const fam of ['-4', '-6']) {
      let text: string;
      try {
        text = await this.o.run(this.o.ip, [fam, '-j', 'route', 'show', 'table', 'local', 'dev', this.o.iface]);
      } catch (e) {
        if (/cannot find device/i.test((e as Error).message)) return out;
        throw e;
      }
      for (const r of JSON.parse(text || '[]') as { type?: string; dst?: string }[]) {
        if (r.type === 'local' && r.dst) out.add(r.dst.replace(/\/(32|128)$/, ''));
      }
    }
    return out;
  }

  /** Add and delete local routes in one `ip -batch` (deleting a missing route is fine). */
  async setRoutes(add: string[], del: string[]): Promise<void> {
    if (!add.length && !del.length) return;
    const r = (op: string, v: string) => `route ${op} local ${v}/${v.includes(':') ? 128 : 32} dev ${this.o.iface} table local\n`;
    const script = add.map((v) => r('replace', v)).join('') + del.map((v) => r('del', v)).join('');
    try {
      await this.o.run(this.o.ip, ['-force', '-batch', '-'], script);
    } catch (e) {
      // -force keeps going past a missing route; only additions matter, so verify them.
      const now = await this.localRoutes();
      const missing = add.filter((v) => !now.has(v));
      if (missing.length) throw new Error(`local routes not added for ${missing.slice(0, 5).join(', ')}: ${(e as Error).message}`);
    }
  }
}
