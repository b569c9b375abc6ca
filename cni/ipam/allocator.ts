/**
 * Allocates addresses from one range (IPv4 or IPv6), under the store's lock: round-robin after
 * the last reserved address (like host-local), never the gateway, idempotent per (container,
 * ifname) and family. A dual-stack network has one allocator per range over the same store
 * directory (host-local's layout: one file per address, `last_reserved_ip.<range set index>`).
 */
import { join } from 'node:path';
import { CniError, CODES } from '../errors.js';
import { contains, formatCidr, formatIp, hostRange, parseIp, type Family } from '../../common/cidr.js';
import { withLock, type LockOptions } from './lock.js';
import { Store, type Allocation } from './store.js';
import type { IpamRange } from '../config.js';

export class Allocator {
  readonly store: Store;
  constructor(
    dataDir: string,
    readonly network: string,
    readonly range: IpamRange,
    private readonly lockOpts: LockOptions = {},
    /** The range set's index in the config (names `last_reserved_ip.<index>`). */
    private readonly index = 0,
  ) {
    this.store = new Store(join(dataDir, network));
  }

  get family(): Family {
    return this.range.subnet.family;
  }

  private fmt(n: bigint): string {
    return formatIp(this.family, n);
  }

  private bounds(): { first: bigint; last: bigint } {
    const h = hostRange(this.range.subnet);
    return { first: this.range.rangeStart ?? h.first, last: this.range.rangeEnd ?? h.last };
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.store.init().then(() => withLock(this.store.lockPath, fn, this.lockOpts));
  }

  /** The address of (containerId, ifname): the existing one, the requested one, or the next free one. */
  allocate(containerId: string, ifname: string, requested?: string): Promise<string> {
    return this.locked(async () => {
      const current = await this.store.list(this.family);
      const mine = current.find((a) => a.containerId === containerId && a.ifname === ifname);
      if (mine) return mine.ip;
      if (requested !== undefined) return this.claimRequested(requested, containerId, ifname);
      const taken = new Set(current.map((a) => a.ip));
      const { first, last } = this.bounds();
      const size = last - first + 1n;
      const prev = await this.store.lastReserved(this.family, this.index);
      const start = prev !== undefined && prev >= first && prev < last ? prev + 1n : first;
      for (let i = 0n; i < size; i++) {
        const n = first + ((start - first + i) % size);
        const ip = this.fmt(n);
        if (n === this.range.gateway || taken.has(ip)) continue;
        if (await this.store.claim(ip, containerId, ifname)) {
          await this.store.setLastReserved(ip, this.index);
          return ip;
        }
      }
      throw new CniError(CODES.noFreeAddress, `no free address in ${this.describe()} for network ${this.network}`);
    });
  }

  private async claimRequested(ip: string, containerId: string, ifname: string): Promise<string> {
    const p = parseIp(ip);
    const n = p?.family === this.family ? p.value : undefined;
    const { first, last } = this.bounds();
    if (n === undefined || !contains(this.range.subnet, n) || n < first || n > last || n === this.range.gateway) {
      throw new CniError(CODES.invalidEnv, `CNI_ARGS IP=${ip} is not a usable address in ${this.describe()}`);
    }
    ip = this.fmt(n);
    if (!(await this.store.claim(ip, containerId, ifname))) {
      throw new CniError(CODES.invalidEnv, `CNI_ARGS IP=${ip} is already allocated in ${this.describe()}`);
    }
    return ip;
  }

  describe(): string {
    const { first, last } = this.bounds();
    const h = hostRange(this.range.subnet);
    const sub = formatCidr(this.range.subnet);
    return first === h.first && last === h.last ? sub : `${sub} (${this.fmt(first)}-${this.fmt(last)})`;
  }

  /** Release every address of (containerId, ifname); returns them. Succeeds when none. */
  release(containerId: string, ifname: string): Promise<string[]> {
    return this.locked(async () => {
      const gone = (await this.store.list(this.family)).filter((a) => a.containerId === containerId && (a.ifname === ifname || a.ifname === ''));
      for (const a of gone) await this.store.remove(a.ip);
      return gone.map((a) => a.ip);
    });
  }

  /** Remove allocations whose (containerId, ifname) is not in `valid`; returns the removed ones. */
  gc(valid: { containerID: string; ifname: string }[]): Promise<Allocation[]> {
    const keep = new Set(valid.map((v) => `${v.containerID}\n${v.ifname}`));
    return this.locked(async () => {
      const stale = (await this.store.list(this.family)).filter((a) => !keep.has(`${a.containerId}\n${a.ifname}`));
      for (const a of stale) await this.store.remove(a.ip);
      return stale;
    });
  }

  list(): Promise<Allocation[]> {
    return this.store.list(this.family);
  }

  /** Free addresses left in the range (an IPv6 range's count can exceed 2^53: then approximate). */
  async free(): Promise<number> {
    const { first, last } = this.bounds();
    const gw = this.range.gateway >= first && this.range.gateway <= last ? 1n : 0n;
    return Number(last - first + 1n - gw - BigInt((await this.store.list(this.family)).length));
  }
}
