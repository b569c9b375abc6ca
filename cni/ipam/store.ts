/**
 * The on-disk allocation store, in the `host-local` layout so both can read it: one directory
 * per network under the data dir, one file per address named by the address and holding
 * `containerID\r\nifname`, and `last_reserved_ip.0` for round-robin allocation.
 */
import { mkdir, open, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CniError, CODES } from '../errors.js';
import { parseIp4 } from './cidr.js';

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
      await mkdir(this.dir, { recursive: true });
    } catch (e) {
      throw new CniError(CODES.io, `cannot create IPAM data dir ${this.dir}: ${(e as Error).message}`);
    }
  }

  async list(): Promise<Allocation[]> {
    const names = (await readdir(this.dir).catch(() => [] as string[])).filter((n) => parseIp4(n) !== undefined);
    const texts = await Promise.all(names.map((n) => readFile(join(this.dir, n), 'utf8').catch(() => undefined)));
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
      const fh = await open(join(this.dir, ip), 'wx', 0o644);
      await fh.writeFile(`${containerId}\r\n${ifname}`);
      await fh.close();
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new CniError(CODES.io, `cannot write ${join(this.dir, ip)}: ${(e as Error).message}`);
    }
  }

  async remove(ip: string): Promise<void> {
    await unlink(join(this.dir, ip)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw new CniError(CODES.io, `cannot remove ${join(this.dir, ip)}: ${e.message}`);
    });
  }

  async lastReserved(): Promise<number | undefined> {
    const text = await readFile(join(this.dir, 'last_reserved_ip.0'), 'utf8').catch(() => '');
    return parseIp4(text.trim());
  }

  async setLastReserved(ip: string): Promise<void> {
    await writeFile(join(this.dir, 'last_reserved_ip.0'), ip);
  }
}
