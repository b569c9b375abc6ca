/**
 * Per VIP and backend bookkeeping for the drivers that measure in this process (userspace): one
 * `BackendCounters` per (service, backend), resolved once per balancer slot so the per-connection
 * cost is a few additions. `snapshot` turns them into the contract's `VipMetrics` (issue #28).
 *
 * Counters are cumulative from construction (the contract's `since`). A backend that leaves the
 * programmed services keeps its counters for `retainMs` (default 10 min) after it was last seen,
 * so a backend that comes back (a redeploy, a flapping health check) carries on counting instead
 * of starting again from zero; after that it is forgotten.
 */
import { CONNECT_LATENCY_BUCKETS, type BackendMetrics, type VipMetrics } from '../../contracts/netmetrics.js';
import { systemClock, type Clock } from '../../common/clock.js';
import type { Service } from '../driver.js';

const NBUCKETS = CONNECT_LATENCY_BUCKETS.length;

/** Index of the first bucket whose bound is >= seconds; NBUCKETS for +Inf. */
export function bucketIndex(seconds: number): number {
  for (let i = 0; i < NBUCKETS; i++) if (seconds <= CONNECT_LATENCY_BUCKETS[i]!) return i;
  return NBUCKETS;
}

export class BackendCounters {
  connections = 0;
  failures = 0;
  bytes = 0;
  /** Connections per latency bucket (not cumulative); the last entry is +Inf. */
  readonly buckets: number[] = new Array<number>(NBUCKETS + 1).fill(0);
  latencySum = 0;
  /** When a snapshot last found it among the programmed services (ms). */
  seen = 0;

  /** A connection the backend accepted after `seconds` (undefined: not measured). */
  connected(seconds?: number): void {
    this.connections++;
    if (seconds === undefined) return;
    this.buckets[bucketIndex(seconds)]!++;
    this.latencySum += seconds;
  }

  /** A failed attempt (refused, timed out): counted among the connections too, as the contract says. */
  failed(): void {
    this.connections++;
    this.failures++;
  }

  /** Cumulative counts as the contract wants them: `counts[i]` = connections with latency <= bound i. */
  latency(): { counts: number[]; sum: number } {
    const counts: number[] = [];
    let acc = 0;
    for (const n of this.buckets) counts.push((acc += n));
    return { counts, sum: this.latencySum };
  }
}

/** `IP:PORT/PROTO` as the control plane names a VIP (IPv6 in brackets). */
export const vipName = (s: { vip: string; port: number; protocol: string }): string =>
  `${s.vip.includes(':') ? `[${s.vip}]` : s.vip}:${s.port}/${s.protocol}`;

/** `IP:PORT` (IPv6 in brackets). */
export const backendName = (b: { ip: string; port: number }): string => (b.ip.includes(':') ? `[${b.ip}]:${b.port}` : `${b.ip}:${b.port}`);

export interface SnapshotOptions {
  /** Which fields each backend gets (the driver's measures). */
  fields: { connections: boolean; failures: boolean; bytes: boolean; latency: boolean };
  /** UDP backends have no connect latency. */
  latencyFor?: (protocol: string) => boolean;
}

export class VipCounters {
  /** vipName -> backendName -> counters */
  private readonly vips = new Map<string, Map<string, BackendCounters>>();
  readonly since: number;

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly retainMs = 600_000,
  ) {
    this.since = clock.now();
  }

  /** The counters of one backend of one VIP (created on first use). */
  backend(vip: string, backend: string): BackendCounters {
    let m = this.vips.get(vip);
    if (!m) this.vips.set(vip, (m = new Map()));
    let c = m.get(backend);
    if (!c) {
      m.set(backend, (c = new BackendCounters()));
      c.seen = this.clock.now();
    }
    return c;
  }

  /** Every programmed VIP and backend (zeros included), plus recently removed ones still counted. */
  snapshot(live: Service[], opts: SnapshotOptions): VipMetrics[] {
    const now = this.clock.now();
    for (const s of live) for (const b of s.backends) this.backend(vipName(s), backendName(b)).seen = now;
    const protocols = new Map(live.map((s) => [vipName(s), s.protocol]));
    const out: VipMetrics[] = [];
    for (const [vip, backends] of this.vips) {
      for (const [id, c] of backends) if (now - c.seen > this.retainMs) backends.delete(id);
      if (backends.size === 0) {
        this.vips.delete(vip);
        continue;
      }
      const proto = protocols.get(vip) ?? vip.slice(vip.lastIndexOf('/') + 1);
      const latency = opts.fields.latency && (opts.latencyFor?.(proto) ?? true);
      const list: BackendMetrics[] = [];
      for (const [id, c] of backends) list.push(backendMetrics(id, c, opts.fields, latency));
      list.sort((a, b) => (a.backend < b.backend ? -1 : a.backend > b.backend ? 1 : 0));
      out.push({ vip, backends: list });
    }
    return out.sort((a, b) => (a.vip < b.vip ? -1 : a.vip > b.vip ? 1 : 0));
  }
}

function backendMetrics(id: string, c: BackendCounters, f: SnapshotOptions['fields'], latency: boolean): BackendMetrics {
  const m: BackendMetrics = { backend: id };
  if (f.connections) m.connections = c.connections;
  if (f.failures) m.failures = c.failures;
  if (f.bytes) m.bytes = c.bytes;
  if (latency) m.latency = c.latency();
  return m;
}
