/**
 * The `sextant up --netns` layout (root): a hub namespace holding bridge `br0` and the master,
 * and one namespace per agent, joined to the bridge by a veth pair (`eth0` inside the agent,
 * `v<i>` on the bridge). Addresses 10.<a>.<b>.0/24: .1 the master, .2 onwards the agents; each
 * agent's default route points at the hub, as a node's points at its gateway.
 * Each agent namespace gets /etc/netns/<ns>/resolv.conf naming that agent's dispatcher (its IP,
 * port 53), as DC/OS's gen-resolvconf did for a host: every process `ip netns exec` starts there
 * (the agent, its host-networked tasks, an operator's `dig web.marathon.mesos`) resolves through
 * it. The hub gets none: the master's Mesos-DNS reads its upstream resolvers from resolv.conf, and
 * pointing them at the dispatchers (which forward `.mesos` to it) would make a loop.
 * With several masters (`--masters 3|5 --netns`) each master and its ZooKeeper server get their
 * own namespace (`<prefix>m<k>`, `eth0` at 10.<a>.<b>.(240+k), veth `m<k>` on the bridge), so a
 * master can be cut off by rules in its own namespace; the hub keeps only the bridge (.1, the
 * nodes' gateway) and the port forwarder.
 * Every name starts with a per-run prefix (`sxup<hex>`), and destroy() removes exactly those
 * namespaces (which takes their links with them) and their /etc/netns directories. The host
 * namespace is never touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, randomInt } from 'node:crypto';
import { MissingRequirementError } from '../common/errors.js';
import { inNetns } from '../common/netns.js';
import { run } from '../common/proc.js';
import { renderResolvConf } from '../common/resolv-conf.js';

/** Where `ip netns exec NAME` finds the files it shows the command over /etc (common/netns). */
export const ETC_NETNS = '/etc/netns';

export class NetnsLayout {
  readonly prefix = `sxup${randomBytes(2).toString('hex')}`;
  readonly hubName = `${this.prefix}hub`;
  private readonly net = `10.${randomInt(100, 200)}.${randomInt(1, 250)}`;
  private readonly created: string[] = [];
  private readonly etcDirs: string[] = [];
  private proxy?: ChildProcess;

  constructor(
    readonly agents: number,
    /** Dual-stack underlay (`sextant up --ipv6`): br0 and every agent's eth0 get an IPv6 address too. */
    readonly ipv6 = false,
    /** 1: the master runs in the hub; 3 or 5: each master in its own namespace on the bridge. */
    readonly masters = 1,
  ) {}

  /** Master k's address (0-based) with several masters: 10.<a>.<b>.(241+k). */
  haMasterIp(k: number): string {
    return `${this.net}.${241 + k}`;
  }

  /** Master k's namespace (0-based) with several masters. */
  masterNs(k: number): string {
    return `${this.prefix}m${k + 1}`;
  }

  /** argv run inside master k's namespace (several masters). */
  inMaster(k: number, argv: string[]): string[] {
    return inNetns(this.masterNs(k), argv);
  }

  wrapHaMaster(k: number): (cmd: string, args: string[]) => [string, string[]] {
    return (cmd, args) => split(this.inMaster(k, [cmd, ...args]));
  }

  /** The IPv6 underlay /64 (a ULA made of the same random octets as the IPv4 one). */
  private get net6(): string {
    const [, b, c] = this.net.split('.');
    return `fd5e:${b}:${c}`;
  }

  get masterIp6(): string {
    return `${this.net6}::1`;
  }

  agentIp6(i: number): string {
    return `${this.net6}::${i + 2}`;
  }

  get masterIp(): string {
    return `${this.net}.1`;
  }

  agentIp(i: number): string {
    return `${this.net}.${i + 2}`;
  }

  agentNs(i: number): string {
    return `${this.prefix}a${i + 1}`;
  }

  /** The port forwarder (expose()), which holds the host's 127.0.0.1 ports. */
  get proxyPid(): number | undefined {
    return this.proxy?.pid;
  }

  describe(): string {
    const masters = this.masters > 1 ? `; masters in ${this.prefix}m1..m${this.masters}, ${this.haMasterIp(0)}..` : '';
    return `namespaces ${this.prefix}a1..a${this.agents} on bridge br0 in ${this.hubName} (${this.net}.0/24${this.ipv6 ? `, ${this.net6}::/64` : ''})${masters}`;
  }

  async create(): Promise<void> {
    if (process.getuid?.() !== 0) throw new MissingRequirementError('root', '--netns creates network namespaces; run as root or drop --netns');
    await this.ns(this.hubName);
    await ipIn(this.hubName, 'link', 'add', 'br0', 'type', 'bridge');
    await ipIn(this.hubName, 'addr', 'add', `${this.masterIp}/24`, 'dev', 'br0');
    if (this.ipv6) await ipIn(this.hubName, 'addr', 'add', `${this.masterIp6}/64`, 'dev', 'br0', 'nodad');
    await ipIn(this.hubName, 'link', 'set', 'br0', 'up');
    if (this.masters > 1) {
      for (let k = 0; k < this.masters; k++) {
        const ns = this.masterNs(k);
        await this.ns(ns);
        await ipIn(this.hubName, 'link', 'add', `m${k}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
        await ipIn(this.hubName, 'link', 'set', `m${k}`, 'master', 'br0');
        await ipIn(this.hubName, 'link', 'set', `m${k}`, 'up');
        await ipIn(ns, 'addr', 'add', `${this.haMasterIp(k)}/24`, 'dev', 'eth0');
        await ipIn(ns, 'link', 'set', 'eth0', 'up');
        await ipIn(ns, 'route', 'add', 'default', 'via', this.masterIp);
      }
    }
    for (let i = 0; i < this.agents; i++) {
      const ns = this.agentNs(i);
      await this.ns(ns);
      await ipIn(this.hubName, 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ipIn(this.hubName, 'link', 'set', `v${i}`, 'master', 'br0');
      await ipIn(this.hubName, 'link', 'set', `v${i}`, 'up');
      await ipIn(ns, 'addr', 'add', `${this.agentIp(i)}/24`, 'dev', 'eth0');
      if (this.ipv6) await ipIn(ns, 'addr', 'add', `${this.agentIp6(i)}/64`, 'dev', 'eth0', 'nodad');
      await ipIn(ns, 'link', 'set', 'eth0', 'up');
      // A node has a default gateway; without one, a VIP (11.0.0.0/8) has no route in the agent's
      // namespace and its host-network clients fail before the L4LB's DNAT sees the packet. The
      // hub has no uplink and does not forward: nothing leaves the namespaces.
      await ipIn(ns, 'route', 'add', 'default', 'via', this.masterIp);
      // The same for IPv6 VIPs (fd01:c::/64): without a v6 default route a connect fails with
      // ENETUNREACH before the DNAT.
      if (this.ipv6) await ipIn(ns, '-6', 'route', 'add', 'default', 'via', this.masterIp6);
      this.writeResolvConf(ns, this.agentIp(i));
    }
  }

  /** /etc/netns/<ns>/resolv.conf pointing at `nameserver`, before anything starts in `ns`. */
  private writeResolvConf(ns: string, nameserver: string): void {
    const dir = join(ETC_NETNS, ns);
    mkdirSync(dir, { recursive: true });
    this.etcDirs.push(dir);
    writeFileSync(join(dir, 'resolv.conf'), renderResolvConf({ comment: `sextant up: ${ns} resolves through its agent's dispatcher`, nameservers: [nameserver] }));
  }

  private async ns(name: string): Promise<void> {
    await ip('netns', 'add', name);
    this.created.push(name);
    await ipIn(name, 'link', 'set', 'lo', 'up');
  }

  wrapMaster(): (cmd: string, args: string[]) => [string, string[]] {
    return (cmd, args) => split(inNetns(this.hubName, [cmd, ...args]));
  }

  wrapAgent(i: number): (cmd: string, args: string[]) => [string, string[]] {
    return (cmd, args) => split(inNetns(this.agentNs(i), [cmd, ...args]));
  }

  /**
   * Make `masterIp:port` reachable from the host as `127.0.0.1:port` for each port: listen here
   * (host namespace) and hand the sockets to a forwarder running in the hub namespace.
   */
  async expose(ports: number[]): Promise<void> {
    await this.forward(ports.map((port) => ({ host: '127.0.0.1', port, target: this.masterIp })));
  }

  /**
   * Make `target:port` (an address on the bridge) reachable from the host as `host:port` (a
   * loopback address), for each entry: listen here (host namespace) and hand the sockets to a
   * forwarder running in the hub namespace (its connections come from the bridge address .1).
   */
  async forward(list: { host: string; port: number; target: string }[]): Promise<void> {
    const here = fileURLToPath(import.meta.url);
    const script = here.endsWith('.ts') ? join(here, '..', '..', 'dist', 'cli', 'up-proxy.js') : join(here, '..', 'up-proxy.js');
    if (!this.proxy) {
      const [file, ...args] = inNetns(this.hubName, [process.execPath, script, this.masterIp]);
      this.proxy = spawn(file!, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    }
    const p = this.proxy;
    for (const { host, port, target } of list) {
      const key = `${host}:${port}`;
      const s = net.createServer({ pauseOnConnect: true });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => resolve());
      });
      const ready = new Promise<void>((resolve, reject) => {
        const onMsg = (m: { ready?: string }) => m?.ready === key && (p.off('message', onMsg), resolve());
        p.on('message', onMsg);
        p.once('exit', () => reject(new Error('the netns port forwarder exited')));
      });
      p.send({ port, target, key }, s);
      await ready;
      // The forwarder owns the socket now: stop accepting here, or connections could land in
      // this process and never be served.
      s.close();
    }
  }

  /** Kill what still runs in our namespaces (by pid) and delete them. */
  async destroy(): Promise<void> {
    this.proxy?.kill('SIGKILL');

    for (const name of this.created.splice(0).reverse()) {
      const pids = await run(['ip', 'netns', 'pids', name]).then((r) => r.stdout.split(/\s+/).filter(Boolean), () => [] as string[]);
      for (const p of pids) {
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await ip('netns', 'del', name).catch(() => undefined);
    }
    for (const dir of this.etcDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** `ip args...` here (the error names the command and its stderr: common/proc). */
async function ip(...args: string[]): Promise<void> {
  await run(['ip', ...args]);
}
/** `ip args...` inside the namespace `ns`. */
async function ipIn(ns: string, ...args: string[]): Promise<void> {
  await run(['ip', ...args], { netns: ns });
}

const split = (argv: string[]): [string, string[]] => [argv[0]!, argv.slice(1)];
