/**
 * Backend choice for the userspace proxy: consistent hash of the client address, or least
 * connections. `pick` runs once per connection, so it allocates nothing: backend ids are built
 * once per `set`, open-connection counts live on per-backend slots that outlive updates (a
 * connection opened before an update is still counted down on the right slot when it closes).
 */
import ConsistentHash from 'consistent-hash';
import type { Backend } from '../driver.js';
import type { BackendCounters } from '../vipmetrics/counters.js';

export type Balance = 'hash' | 'leastconn';

export const backendId = (b: { ip: string; port: number }) => (b.ip.includes(':') ? `[${b.ip}]:${b.port}` : `${b.ip}:${b.port}`);

/** One backend as the balancer sees it; `open` counts its connections (TCP) or sessions (UDP). */
export interface Slot {
  readonly id: string;
  backend: Backend;
  open: number;
  active: boolean;
  /** Its VIP metrics (set by the proxy on first use when metrics are on). */
  stats?: BackendCounters;
}

const NO_SKIP: ReadonlySet<string> = new Set();

export class Balancer {
  private ring?: ConsistentHash;
  private active: Slot[] = [];
  private readonly slots = new Map<string, Slot>();

  constructor(readonly mode: Balance) {}

  set(backends: Backend[]): void {
    for (const s of this.active) s.active = false;
    this.active = [];
    for (const b of backends) {
      if (b.weight <= 0) continue;
      const id = backendId(b);
      let s = this.slots.get(id);
      if (!s) this.slots.set(id, (s = { id, backend: b, open: 0, active: true }));
      s.backend = b;
      s.active = true;
      this.active.push(s);
    }
    for (const [id, s] of this.slots) if (!s.active && s.open === 0) this.slots.delete(id);
    this.ring = undefined;
    if (this.mode === 'hash' && this.active.length > 1) {
      this.ring = new ConsistentHash({ range: 100003, weight: 40, distribution: 'uniform' });
      for (const s of this.active) this.ring.add(s.id, 40 * s.backend.weight);
    }
  }

  /** Open connections per backend id (those with at least one). */
  get open(): Map<string, number> {
    const m = new Map<string, number>();
    for (const s of this.slots.values()) if (s.open > 0) m.set(s.id, s.open);
    return m;
  }

  /** Does this mode need the client address (hash) or not (leastconn: saves a getpeername)? */
  get wantsClient(): boolean {
    return this.mode === 'hash' && this.active.length > 1;
  }

  /** A slot for this client (excluding ids in `skip`), or undefined when none takes new connections. */
  pick(client: string, skip: ReadonlySet<string> = NO_SKIP): Slot | undefined {
    const act = this.active;
    if (act.length === 1) return skip.has(act[0]!.id) ? undefined : act[0];
    if (this.ring && skip.size === 0) {
      const s = this.slots.get(this.ring.get(client) as string);
      if (s?.active) return s;
    }
    let best: Slot | undefined;
    for (const s of act) if (!skip.has(s.id) && (!best || s.open / s.backend.weight < best.open / best.backend.weight)) best = s;
    return best;
  }

  opened(s: Slot): void {
    s.open++;
  }

  closed(s: Slot): void {
    if (s.open > 0) s.open--;
    if (s.open === 0 && !s.active) this.slots.delete(s.id);
  }
}
