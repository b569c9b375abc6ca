/**
 * The agent's NetworkAttacher over CNI: per network a conflist in the CNI config dir, per task a
 * named network namespace, the plugins run through the conflist (ours, or the standard bridge +
 * host-local), and `/etc/netns/<ns>/resolv.conf` pointing at the given nameservers (what
 * `ip netns exec` shows the task as /etc/resolv.conf).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetworkAttacher, NetworkAttachRequest, NetworkAttachment } from '../contracts/index.js';
import { NotFoundError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { ProcessError, run } from '../common/proc.js';
import { renderResolvConf } from '../common/resolv-conf.js';
import { buildConflist, type NetworkSpec } from './conflist.js';
import { CniRuntime, type Conflist } from './runtime.js';
import { writeWrapper } from './wrapper.js';

export interface BridgeNetwork {
  /** The agent's bridge slice of the network (e.g. 9.0.1.0/25). */
  subnet: string;
  /** The IPv6 bridge slice when the network is dual-stack (e.g. fd01:b::/81). */
  subnet6?: string;
  mtu: number;
}

export interface CniAttacherOptions {
  /** Where conflists go (`<network>.conflist`). */
  confDir: string;
  /** Where the `sextant-cni` wrapper goes; searched first for plugins. */
  binDir: string;
  /** IPAM store (`<dataDir>/networks`) and cached results (`<dataDir>/results`). */
  dataDir: string;
  /** The agent's slice of a network, or undefined when the agent has none. */
  networks: (name: string) => BridgeNetwork | undefined;
  /** `sextant` (default) or `standard` (bridge + host-local from `standardBinDir`, ours chained for ports). */
  plugins?: 'sextant' | 'standard';
  standardBinDir?: string;
  /** The compiled plugin entry point; default `main.js` beside this module. */
  pluginMain?: string;
  /** Port mappings never capture these (default the VIP range 11.0.0.0/8). */
  portMapExclude?: string[];
  /** Namespace names are `<prefix><hash of task id>` (default `sextant-`). */
  netnsPrefix?: string;
  /** Run plugins inside this network namespace (tests: the host stand-in). */
  netns?: string;
  ifname?: string;
  logger?: Logger;
}

/** Files `ip netns exec <ns>` bind-mounts over /etc (the task's resolv.conf). */
const netnsEtc = (ns: string) => join('/etc/netns', ns);

export class CniAttacher implements NetworkAttacher {
  private readonly runtime: CniRuntime;
  private readonly log: Logger;
  private started?: Promise<void>;

  constructor(private readonly o: CniAttacherOptions) {
    this.runtime = new CniRuntime({ binDirs: [o.binDir, o.standardBinDir ?? '/usr/lib/cni'], cacheDir: join(o.dataDir, 'results'), netns: o.netns });
    this.log = o.logger ?? createLogger('cni');
  }

  /** Install the plugin wrapper into the bin dir (also done lazily by the first attach). */
  start(): Promise<void> {
    this.started ??= (async () => {
      // From dist: beside this module; from source (tsx): in dist/. The one-file bundle that
      // `npm run build` makes (scripts/bundle-cni.mjs) starts faster than tsc's main.js.
      const here = dirname(fileURLToPath(import.meta.url));
      const dist = import.meta.url.endsWith('.ts') ? join(here, '..', 'dist', 'cni') : here;
      const bundle = join(dist, 'sextant-cni.cjs');
      const main = this.o.pluginMain ?? (existsSync(bundle) ? bundle : join(dist, 'main.js'));
      await writeWrapper(this.o.binDir, main);
      await mkdir(this.o.confDir, { recursive: true });
    })();
    return this.started;
  }

  netnsName(taskId: string): string {
    return `${this.o.netnsPrefix ?? 'sextant-'}${createHash('sha1').update(taskId).digest('hex').slice(0, 12)}`;
  }

  /** Build and write the conflist of a network (atomically, only when it changed). */
  async conflist(network: string): Promise<Conflist> {
    const net = this.o.networks(network);
    if (!net) throw new NotFoundError(`network "${network}" has no subnet on this agent`);
    const spec: NetworkSpec = { name: network, subnet: net.subnet, ...(net.subnet6 ? { subnet6: net.subnet6 } : {}), mtu: net.mtu, dataDir: join(this.o.dataDir, 'networks'), plugins: this.o.plugins ?? 'sextant', portMapExclude: this.o.portMapExclude ?? ['11.0.0.0/8'] };
    const list = buildConflist(spec);
    const path = join(this.o.confDir, `${network}.conflist`);
    const text = JSON.stringify(list, null, 2) + '\n';
    if ((await readFile(path, 'utf8').catch(() => '')) !== text) {
      await writeFile(`${path}.tmp`, text);
      await rename(`${path}.tmp`, path);
    }
    return list;
  }

  async attach(req: NetworkAttachRequest, signal?: AbortSignal): Promise<NetworkAttachment> {
    await this.start();
    const list = await this.conflist(req.network);
    signal?.throwIfAborted();
    const ns = this.netnsName(req.task_id);
    await run(['ip', 'netns', 'add', ns]).catch((e: unknown) => {
      if (!(e instanceof ProcessError && /exists/i.test(e.stderr))) throw e;
    });
    try {
      await run(['ip', 'link', 'set', 'lo', 'up'], { netns: ns });
      await this.writeResolvConf(ns, req.nameservers);
      signal?.throwIfAborted();
      const result = await this.runtime.add(list, {
        containerId: req.task_id,
        netns: `/run/netns/${ns}`,
        ifname: this.o.ifname ?? 'eth0',
        runtimeConfig: { portMappings: req.port_mappings.map((m) => ({ hostPort: m.host_port, containerPort: m.container_port, protocol: m.protocol })) },
      });
      const ip = result.ips?.find((i) => !i.address.includes(':'))?.address.split('/')[0];
      const ip6 = result.ips?.find((i) => i.address.includes(':'))?.address.split('/')[0];
      if (!ip) throw new NotFoundError(`CNI result for ${req.task_id} has no IPv4 address`);
      this.log.info('attached', { task_id: req.task_id, network: req.network, netns: ns, ip, ...(ip6 ? { ip6 } : {}) });
      return ip6 ? { netns: ns, ip, ip6 } : { netns: ns, ip };
    } catch (e) {
      this.log.warn('attach_failed', { task_id: req.task_id, network: req.network, error: e });
      await this.removeNetns(ns);
      throw e;
    }
  }

  async detach(taskId: string, network: string): Promise<void> {
    const ns = this.netnsName(taskId);
    const list = await this.conflist(network).catch(() => undefined);
    if (list) await this.runtime.del(list, { containerId: taskId, netns: `/run/netns/${ns}`, ifname: this.o.ifname ?? 'eth0' });
    await this.removeNetns(ns);
    this.log.info('detached', { task_id: taskId, network, netns: ns });
  }

  /** Release everything on `network` that belongs to no task in `taskIds` (CNI GC). */
  async gc(network: string, taskIds: string[]): Promise<void> {
    const list = await this.conflist(network);
    await this.runtime.gc(list, taskIds.map((id) => ({ containerID: id, ifname: this.o.ifname ?? 'eth0' })));
  }

  /**
   * Rewrite a task's resolv.conf for new nameservers. In place (same inode): `ip netns exec`
   * bind-mounted this file over the task's /etc/resolv.conf when the task started, and a bind
   * mount follows the inode, not the name. A namespace that is gone is left alone.
   */
  async setNameservers(netns: string, nameservers: string[]): Promise<void> {
    if (!existsSync(netnsEtc(netns))) return;
    await this.writeResolvConf(netns, nameservers);
  }

  private async writeResolvConf(ns: string, nameservers: string[]): Promise<void> {
    const dir = netnsEtc(ns);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'resolv.conf'), renderResolvConf({ nameservers }));
  }

  private async removeNetns(ns: string): Promise<void> {
    await run(['ip', 'netns', 'del', ns]).catch(() => undefined);
    await rm(netnsEtc(ns), { recursive: true, force: true });
  }
}
