/**
 * The aggregator's memory: per (VIP, backend, node) the deltas of connections, failures and bytes
 * over the last minute and the last hour, and per (VIP, backend) the connect-latency histogram over
 * the same windows, each in a fixed ring (ring.ts). `ingest` turns one node's cumulative counters
 * into deltas against the previous answer of that node; a changed `since` (the driver restarted)
 * or a counter that went down means the counters began again at zero, so the new value is the
 * delta. The first answer of a node whose counters started before this store did is only a
 * baseline: when those connections happened is unknown.
 */
import { CONNECT_LATENCY_BUCKETS, type BackendMetrics, type NetMetricsMeasures, type NodeNetMetrics } from '../contracts/index.js';
import { LATENCY_WIDTH } from './histogram.js';
import { Ring } from './ring.js';

/** Columns of a counter row. `judged`: connections seen by nodes that measure failures (the base of a failure rate). */
export const C = { connections: 0, failures: 1, bytes: 2, judged: 3 } as const;
export const COUNTER_WIDTH = 4;

export interface WindowSpec {
  slots: number;
  slotMs: number;
}
export interface StoreOptions {
  /** Default 12 × 5 s. */
  minute?: WindowSpec;
  /** Default 12 × 5 min. */
  hour?: WindowSpec;
  /** Series (VIP, backend, node) kept at most; new ones beyond are dropped and counted. Default 60,000 (twice 1,000 VIPs × 3 backends × 10 nodes). */
  maxSeries?: number;
  /** When the store started (ms): a node first seen with counters younger than this counts them all. */
  startedAt: number;
}

export interface Windows {
  minute: Ring;
  hour: Ring;
}

export interface NodeSeries extends Windows {
  measures: NetMetricsMeasures;
}

export interface BackendEntry {
  backend: string;
  latency: Windows;
  nodes: Map<string, NodeSeries>;
}

export interface VipEntry {
  vip: string;
  name?: string;
  backends: Map<string, BackendEntry>;
}

export interface NodeStatus {
  node: string;
  driver?: NodeNetMetrics['driver'];
  measures?: NetMetricsMeasures;
  /** Last answer that was taken (ms), and the error of the last poll when it failed. */
  last_ok?: number;
  error?: string;
}

interface Baseline {
  since: number;
  counters: Map<string, BackendMetrics>;
}

export class MetricsStore {
  readonly vips = new Map<string, VipEntry>();
  readonly nodes = new Map<string, NodeStatus>();
  private readonly baselines = new Map<string, Baseline>();
  private readonly minute: WindowSpec;
  private readonly hour: WindowSpec;
  private readonly maxSeries: number;
  private series = 0;
  /** Series not kept because of maxSeries. */
  dropped = 0;

  constructor(private readonly o: StoreOptions) {
    this.minute = o.minute ?? { slots: 12, slotMs: 5_000 };
    this.hour = o.hour ?? { slots: 12, slotMs: 300_000 };
    this.maxSeries = o.maxSeries ?? 60_000;
  }

  get seriesCount(): number {
    return this.series;
  }

  /** Take one node's answer, received at `now` (the master's clock). */
  ingest(m: NodeNetMetrics, now: number): void {
    const prev = this.baselines.get(m.node);
    const restarted = prev !== undefined && prev.since !== m.since;
    const fresh = prev === undefined && m.since >= this.o.startedAt;
    const counters = new Map<string, BackendMetrics>();
    for (const v of m.vips)
      for (const b of v.backends) {
        const key = `${v.vip}|${b.backend}`;
        counters.set(key, b);
        if (prev === undefined && !fresh) continue;
        const before = restarted ? undefined : prev?.counters.get(key);
        this.add(v.vip, v.name, b, before, m, now);
      }
    this.baselines.set(m.node, { since: m.since, counters });
    this.nodes.set(m.node, { node: m.node, driver: m.driver, measures: m.measures, last_ok: now });
  }

  /** A poll of `node` failed: its windows stay, its status says why. */
  failed(node: string, error: string): void {
    this.nodes.set(node, { ...this.nodes.get(node), node, error });
  }

  /** Forget a node that left the cluster (its baseline; its windows age out). */
  forget(node: string): void {
    this.baselines.delete(node);
    this.nodes.delete(node);
  }

  private add(vip: string, name: string | undefined, b: BackendMetrics, before: BackendMetrics | undefined, m: NodeNetMetrics, now: number): void {
    const d = (cur: number | undefined, old: number | undefined) => (cur === undefined ? 0 : old === undefined || cur < old ? cur : cur - old);
    // A counter that went down means a restart the `since` did not show: every figure starts again.
    const reset = before !== undefined && ((b.connections ?? 0) < (before.connections ?? 0) || (b.failures ?? 0) < (before.failures ?? 0) || (b.bytes ?? 0) < (before.bytes ?? 0));
    const old = reset ? undefined : before;
    const conns = d(b.connections, old?.connections);
    const row = [conns, m.measures.failures ? d(b.failures, old?.failures) : 0, d(b.bytes, old?.bytes), m.measures.failures ? conns : 0];
    const lat = b.latency ? latencyDelta(b.latency, reset || (old?.latency?.counts.at(-1) ?? 0) > (b.latency.counts.at(-1) ?? 0) ? undefined : old?.latency) : undefined;
    if (row.every((x) => x === 0) && !lat?.some((x) => x !== 0)) {
      // Nothing happened: do not create a series for it (an idle VIP costs nothing).
      if (!this.vips.get(vip)?.backends.get(b.backend)?.nodes.has(m.node)) return;
    }
    const s = this.seriesFor(vip, name, b.backend, m.node, m.measures);
    if (!s) return;
    s.node.minute.add(now, row);
    s.node.hour.add(now, row);
    if (lat) {
      s.backend.latency.minute.add(now, lat);
      s.backend.latency.hour.add(now, lat);
    }
  }

  private seriesFor(vip: string, name: string | undefined, backend: string, node: string, measures: NetMetricsMeasures): { node: NodeSeries; backend: BackendEntry } | undefined {
    let v = this.vips.get(vip);
    const existing = v?.backends.get(backend)?.nodes.get(node);
    if (existing) {
      existing.measures = measures;
      if (name) v!.name = name;
      return { node: existing, backend: v!.backends.get(backend)! };
    }
    if (this.series >= this.maxSeries) {
      this.dropped++;
      return undefined;
    }
    if (!v) this.vips.set(vip, (v = { vip, backends: new Map() }));
    if (name) v.name = name;
    let be = v.backends.get(backend);
    if (!be) v.backends.set(backend, (be = { backend, latency: this.windows(LATENCY_WIDTH), nodes: new Map() }));
    const s: NodeSeries = { ...this.windows(COUNTER_WIDTH), measures };
    be.nodes.set(node, s);
    this.series++;
    return { node: s, backend: be };
  }

  /** Both windows in one buffer. */
  private windows(width: number): Windows {
    const m = Ring.size(this.minute.slots, width);
    const buf = new Float64Array(m + Ring.size(this.hour.slots, width));
    return { minute: new Ring(this.minute.slots, this.minute.slotMs, width, buf, 0), hour: new Ring(this.hour.slots, this.hour.slotMs, width, buf, m) };
  }

  /** Drop series with nothing in the last hour, then backends and VIPs left without any. */
  prune(now: number): void {
    for (const [vk, v] of this.vips) {
      for (const [bk, b] of v.backends) {
        for (const [nk, s] of b.nodes)
          if (s.hour.empty(now)) {
            b.nodes.delete(nk);
            this.series--;
          }
        if (b.nodes.size === 0 && b.latency.hour.empty(now)) v.backends.delete(bk);
      }
      if (v.backends.size === 0) this.vips.delete(vk);
    }
  }
}

/** Per-bucket deltas of a cumulative histogram, then the sum's delta. */
function latencyDelta(cur: { counts: number[]; sum: number }, old: { counts: number[]; sum: number } | undefined): number[] {
  const out = new Array<number>(LATENCY_WIDTH).fill(0);
  for (let i = 0; i <= CONNECT_LATENCY_BUCKETS.length; i++) out[i] = Math.max(0, (cur.counts[i] ?? 0) - (old?.counts[i] ?? 0));
  out[LATENCY_WIDTH - 1] = Math.max(0, cur.sum - (old?.sum ?? 0));
  return out;
}

/** A row's figures: totals and the success rate (null when no node that measures failures saw a connection). */
export interface Figures {
  connections: number;
  failures: number;
  bytes: number;
  success_rate: number | null;
}

export function figures(row: ArrayLike<number>): Figures {
  const judged = row[C.judged]!;
  const rate = judged > 0 ? Math.max(0, Math.min(1, 1 - row[C.failures]! / judged)) : null;
  return { connections: row[C.connections]!, failures: row[C.failures]!, bytes: row[C.bytes]!, success_rate: rate === null ? null : Math.round(rate * 10_000) / 10_000 };
}
