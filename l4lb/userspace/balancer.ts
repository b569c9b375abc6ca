/** Backend choice for the userspace proxy: consistent hash of the client address, or least connections. */
import ConsistentHash from 'consistent-hash';
import type { Backend } from '../driver.js';

export type Balance = 'hash' | 'leastconn';

export const backendId = (b: { ip: string; port: number }) => (b.ip.includes(':') ? `[${b.ip}]:${b.port}` : `${b.ip}:${b.port}`);

export class Balancer {
  private ring?: ConsistentHash;
  private active: Backend[] = [];
  /** Open connections (TCP) or sessions (UDP) per backend id. */
  readonly open = new Map<string, number>();

  constructor(private readonly mode: Balance) {}

  set(backends: Backend[]): void {
    this.active = backends.filter((b) => b.weight > 0);
    this.ring = undefined;
    if (this.mode === 'hash' && this.active.length) {
      this.ring = new ConsistentHash({ range: 100003, weight: 40, distribution: 'uniform' });
      for (const b of this.active) this.ring.add(backendId(b), 40 * b.weight);
    }
  }

  /** A backend for this client (excluding ids in `skip`), or undefined when none takes new connections. */
  pick(client: string, skip: Set<string> = new Set()): Backend | undefined {
    const candidates = this.active.filter((b) => !skip.has(backendId(b)));
    if (!candidates.length) return undefined;
    if (this.mode === 'hash' && this.ring && !skip.size) {
      const id = this.ring.get(client);
      return candidates.find((b) => backendId(b) === id) ?? candidates[0];
    }
    let best = candidates[0]!;
    for (const b of candidates) if ((this.open.get(backendId(b)) ?? 0) / b.weight < (this.open.get(backendId(best)) ?? 0) / best.weight) best = b;
    return best;
  }

  opened(b: Backend): void {
    this.open.set(backendId(b), (this.open.get(backendId(b)) ?? 0) + 1);
  }
  closed(b: Backend): void {
    const n = (this.open.get(backendId(b)) ?? 1) - 1;
    if (n <= 0) this.open.delete(backendId(b));
    else this.open.set(backendId(b), n);
  }
}
