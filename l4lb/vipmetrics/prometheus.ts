/**
 * The per VIP, per backend Prometheus series, read from the driver's NodeNetMetrics at scrape
 * time (nothing is counted twice: the driver's own counters are the only state). Labels are
 * bounded (labels.ts). Only the figures the driver measures are exported.
 */
import { CONNECT_LATENCY_BUCKETS, type NodeNetMetrics } from '../../contracts/netmetrics.js';
import type { Registry } from '../../common/metrics.js';
import { BoundedLabels, type SeriesKey } from './labels.js';
import type { NetCounts, PairLayout } from './pair-layout.js';

export const METRIC_NAMES = {
  connections: 'sextant_l4lb_vip_connections_total',
  failures: 'sextant_l4lb_vip_failures_total',
  bytes: 'sextant_l4lb_vip_bytes_total',
  latency: 'sextant_l4lb_vip_connect_latency_seconds',
} as const;

const HELP = {
  connections: 'New connections (TCP) or flows (UDP) this node sent to a VIP backend',
  failures: 'Failed connection attempts to a VIP backend (refused/reset, no SYN-ACK, timeout)',
  bytes: 'Bytes both ways between clients and a VIP backend',
  latency: 'Time for a VIP backend to accept a connection (userspace driver)',
} as const;

interface Row {
  labels: SeriesKey;
  connections: number;
  failures: number;
  bytes: number;
  counts?: number[];
  sum: number;
}

type Value = { labels: Record<string, string | number>; value: number; metricName?: string };

/** Sum the snapshot into bounded series. */
export function seriesOf(m: Pick<NodeNetMetrics, 'vips'>, labels: BoundedLabels): Row[] {
  const pairs: SeriesKey[] = [];
  const vips = m.vips;
  for (let j = 0; j < vips.length; j++) for (const b of vips[j]!.backends) pairs.push({ vip: vips[j]!.vip, backend: b.backend });
  const assigned = labels.assign(pairs);
  // By the labels object: BoundedLabels gives one object per series (a key string per pair made
  // 30,000 strings a scrape at 10,000 VIPs x 3, issue #26).
  const rows = new Map<SeriesKey, Row>();
  let i = 0;
  for (let j = 0; j < vips.length; j++)
    for (const b of vips[j]!.backends) {
      const l = assigned[i++]!;
      let r = rows.get(l);
      if (!r) rows.set(l, (r = { labels: l, connections: 0, failures: 0, bytes: 0, sum: 0 }));
      r.connections += b.connections ?? 0;
      r.failures += b.failures ?? 0;
      r.bytes += b.bytes ?? 0;
      if (b.latency) {
        r.counts ??= new Array<number>(CONNECT_LATENCY_BUCKETS.length + 1).fill(0);
        b.latency.counts.forEach((n, j) => (r!.counts![j]! += n));
        r.sum += b.latency.sum;
      }
    }
  return [...rows.values()];
}

/**
 * The series of a read in layout form (pair-layout.ts): the labels are worked out when the layout
 * changes (the same pairs give the same labels), so a scrape costs a row per series and an addition
 * per counted pair, not a key and a labels lookup per programmed backend (issue #26).
 */
export class LayoutSeries {
  private layout?: PairLayout;
  /** Pair index -> row; the rows' labels in the order the pairs first reach them. */
  private rowOf = new Int32Array(0);
  private series: SeriesKey[] = [];

  constructor(readonly labels: BoundedLabels) {}

  rows(c: NetCounts): Row[] {
    if (c.layout !== this.layout) this.assign(c.layout);
    const rows: Row[] = this.series.map((labels) => ({ labels, connections: 0, failures: 0, bytes: 0, sum: 0 }));
    c.counts.forEach((n, p) => {
      const r = rows[this.rowOf[p]!]!;
      r.connections += n.connections;
      r.failures += n.failures;
      r.bytes += n.bytes;
    });
    return rows;
  }

  /** Forget the layout: the next read assigns again (after the labels were reset). */
  reset(): void {
    this.layout = undefined;
  }

  private assign(layout: PairLayout): void {
    const pairs: SeriesKey[] = [];
    for (let i = 0; i < layout.vips.length; i++) for (let p = layout.start[i]!; p < layout.start[i + 1]!; p++) pairs.push({ vip: layout.vips[i]!, backend: layout.backends[p]! });
    const assigned = this.labels.assign(pairs);
    const index = new Map<SeriesKey, number>();
    this.series = [];
    this.rowOf = new Int32Array(assigned.length);
    assigned.forEach((l, p) => {
      let r = index.get(l);
      if (r === undefined) index.set(l, (r = this.series.push(l) - 1));
      this.rowOf[p] = r;
    });
    this.layout = layout;
  }
}

/** The counters (a node's view or a driver's: names, node and time are not used), or a read in layout form. */
type Source = () => Promise<Pick<NodeNetMetrics, 'measures' | 'since' | 'vips'> | NetCounts | undefined>;
/** Registries that have the families: a second registration (the plugin started again) only swaps the source. */
const registered = new WeakMap<Registry, { source: Source; labels: BoundedLabels; layoutSeries: LayoutSeries }>();

/**
 * Register the four families on `registry`; `source` gives the node's metrics (undefined: none
 * yet, or metrics off). One read per scrape, shared by the four families.
 */
export function registerVipSeries(registry: Registry, source: Source, maxSeries: number): void {
  const have = registered.get(registry);
  if (have) {
    have.source = source;
    have.labels = new BoundedLabels(maxSeries);
    have.layoutSeries = new LayoutSeries(have.labels);
    return;
  }
  const labels = new BoundedLabels(maxSeries);
  const state = { source, labels, layoutSeries: new LayoutSeries(labels) };
  registered.set(registry, state);
  let pending: Promise<{ m?: NonNullable<Awaited<ReturnType<Source>>>; rows: Row[] }> | undefined;
  let since: number | undefined;
  const read = () =>
    (pending ??= state
      .source()
      .then((m) => {
        if (!m) return { rows: [] };
        if (since !== m.since) {
          state.labels.assign([]); // counters restarted: labels start again too
          state.layoutSeries.reset();
        }
        since = m.since;
        if ('layout' in m) return { m, rows: state.layoutSeries.rows(m) };
        state.layoutSeries.reset(); // the labels move on without it
        return { m, rows: seriesOf(m, state.labels) };
      })
      .finally(() => (pending = undefined)));
  const family = (key: keyof typeof METRIC_NAMES, type: 'counter' | 'histogram', values: (rows: Row[]) => Value[]) => ({
    name: METRIC_NAMES[key],
    help: HELP[key],
    type,
    aggregator: 'sum',
    reset() {},
    async get() {
      const { m, rows } = await read().catch(() => ({ m: undefined, rows: [] as Row[] }));
      return { name: METRIC_NAMES[key], help: HELP[key], type, aggregator: 'sum', values: m?.measures[key] ? values(rows) : [] };
    },
  });
  const counter = (key: 'connections' | 'failures' | 'bytes') =>
    family(key, 'counter', (rows) => rows.map((r) => ({ labels: { ...r.labels }, value: r[key] })));
  for (const k of ['connections', 'failures', 'bytes'] as const) registry.registerMetric(counter(k) as never);
  registry.registerMetric(
    family('latency', 'histogram', (rows) => {
      const out: Value[] = [];
      const name = METRIC_NAMES.latency;
      for (const r of rows) {
        if (!r.counts) continue;
        r.counts.forEach((n, j) => out.push({ metricName: `${name}_bucket`, labels: { ...r.labels, le: j < CONNECT_LATENCY_BUCKETS.length ? CONNECT_LATENCY_BUCKETS[j]! : '+Inf' }, value: n }));
        out.push({ metricName: `${name}_sum`, labels: { ...r.labels }, value: r.sum });
        out.push({ metricName: `${name}_count`, labels: { ...r.labels }, value: r.counts[r.counts.length - 1]! });
      }
      return out;
    }) as never,
  );
}
