/**
 * Makes VIP addresses local for the userspace proxy, which listens on the VIP itself: each VIP it
 * serves is an address (/32, /128) of an interface in the node's namespace, added before the proxy
 * listens and removed once no service uses the VIP. DC/OS's minuteman kept its VIPs on a
 * `minuteman` dummy interface the same way. Needs CAP_NET_ADMIN; without this (the default) the VIP
 * must already be local or the listen fails with EADDRNOTAVAIL.
 *  - An interface that does not exist is created as a dummy and is this driver's alone: start()
 *    clears it, stop() deletes it.
 *  - An existing one (`lo`: kernels without the dummy driver, and `sextant up --netns`) is shared:
 *    only the addresses this driver adds are removed. IPv4 ones carry the label `<iface>:sxvip`,
 *    so start() also removes those a crashed run left (IPv6 addresses have no label: a crash
 *    leaves them until the namespace goes).
 */
import { isIPv6 } from 'node:net';
import { run } from '../../common/proc.js';

export class LocalVips {
  private readonly held = new Set<string>();
  private created = false;
  private readonly label?: string;

  constructor(readonly iface: string) {
    if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(iface)) throw new Error(`VIP interface "${iface}" is not an interface name of 1-15 characters`);
    if (iface.length <= 9) this.label = `${iface}:sxvip`;
  }

  async start(): Promise<void> {
    const exists = await run(['ip', 'link', 'show', 'dev', this.iface]).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await run(['ip', 'link', 'add', this.iface, 'type', 'dummy']);
      this.created = true;
      await run(['ip', 'addr', 'flush', 'dev', this.iface]);
    } else if (this.label) await run(['ip', 'addr', 'flush', 'dev', this.iface, 'label', this.label]);
    await run(['ip', 'link', 'set', this.iface, 'up']);
  }

  /** The VIP is an address of the interface (idempotent: `ip addr replace`). */
  async hold(vip: string): Promise<void> {
    const v6 = isIPv6(vip);
    const extra = v6 ? ['nodad'] : this.label ? ['label', this.label] : [];
    await run(['ip', ...(v6 ? ['-6'] : []), 'addr', 'replace', `${vip}/${v6 ? 128 : 32}`, 'dev', this.iface, ...extra]);
    this.held.add(vip);
  }

  /** Remove every held VIP not in `keep`. */
  async releaseExcept(keep: Set<string>): Promise<void> {
    for (const vip of [...this.held]) {
      if (keep.has(vip)) continue;
      await run(['ip', 'addr', 'del', `${vip}/${isIPv6(vip) ? 128 : 32}`, 'dev', this.iface]).catch(() => undefined);
      this.held.delete(vip);
    }
  }

  /** The addresses on the interface now (tests, dump). */
  async addresses(): Promise<string[]> {
    const r = await run(['ip', '-j', 'addr', 'show', 'dev', this.iface]);
    const rows = JSON.parse(r.stdout || '[]') as { addr_info?: { local: string }[] }[];
    return rows.flatMap((x) => (x.addr_info ?? []).map((a) => a.local)).sort();
  }

  async stop(): Promise<void> {
    if (this.created) {
      this.held.clear();
      this.created = false;
      await run(['ip', 'link', 'del', this.iface]).catch(() => undefined);
    } else await this.releaseExcept(new Set());
  }
}
