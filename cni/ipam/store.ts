/**
 * The on-disk allocation store, in the `host-local` layout so both can read it: one directory
 * per network under the data dir, one file per address named by the address and holding
 * `containerID\r\nifname`, and `last_reserved_ip.0` for round-robin allocation.
 * The file calls are synchronous: they run under the lock in a short-lived plugin process, where
 * a round trip through libuv's thread pool per file only adds latency.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, CODES } from '../errors.js';
import { parseIp, type Family } from '../../common/cidr.js';

function tryOr<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

export interface Allocation {
  ip: string;
  containerId: string;
  ifname: string;
}

export class Store {
  constructor(readonly dir: string) {}

  get lockPath(): string {
    return join(this.dir, '.sextant.lock');
  }

  async init(): Promise<void> {
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      throw new CniError(CODES.io, `cannot create IPAM data dir ${this.dir}: ${(e as Error).message}`);
    }
  }

  /** Every allocation, or those of one family (a dual-stack store holds both). */
  async list(family?: Family): Promise<Allocation[]> {
    const names = tryOr(() => readdirSync(this.dir), [] as string[]).filter((n) => {
      const ip = parseIp(n);
      return ip !== undefined && (family === undefined || ip.family === family);
    });
    const texts = names.map((n) => tryOr<string | undefined>(() => readFileSync(join(this.dir, n), 'utf8'), undefined));
    const out: Allocation[] = [];
    names.forEach((ip, i) => {
      const text = texts[i];
      if (text === undefined) return;
      const [containerId = '', ifname = ''] = text.split(/\r?\n/);
      out.push({ ip, containerId: containerId.trim(), ifname: ifname.trim() });
    });
    return out;
  }

  /** Claim an address; false when it is already taken (O_EXCL, so this is race-free). */
  async claim(ip: string, containerId: string, ifname: string): Promise<boolean> {
    try {
      const fd = openSync(join(this.dir, ip), 'wx', 0o644);
      try {
        writeSync(fd, `${containerId}\r\n${ifname}`);
      } finally {
        closeSync(fd);
      }
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new CniError(CODES.io, `cannot write ${join(this.dir, ip)}: ${(e as Error).message}`);
    }
  }

  async remove(ip: string): Promise<void> {
    try {
      unlinkSync(join(this.dir, ip));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'ENOENT') throw new CniError(CODES.io, `cannot remove ${join(this.dir, ip)}: ${err.message}`);
    }
  }

  /** host-local's `last_reserved_ip.<range set index>`, read as an address of `family`. */
  async lastReserved(family: Family = 4, index = 0): Promise<bigint | undefined> {
    const text = tryOr(() => readFileSync(join(this.dir, `last_reserved_ip.${index}`), 'utf8'), '');
    const ip = parseIp(text.trim());
    return ip?.family === family ? ip.value : undefined;
  }

  async setLastReserved(ip: string, index = 0): Promise<void> {
    writeFileSync(join(this.dir, `last_reserved_ip.${index}`), ip);
  }
}
