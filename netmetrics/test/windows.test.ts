/**
 * The pure parts of the aggregator, table-driven: ring windows (sums, slot reuse, expiry), percentiles
 * from cumulative histograms, deltas between answers with restarts and counter resets, bounded series.
 */
import t from 'tap';
import { CONNECT_LATENCY_BUCKETS, type NodeNetMetrics } from '../../contracts/index.js';
import { quantile } from '../histogram.js';
import { Ring } from '../ring.js';
import { C, MetricsStore, figures } from '../store.js';

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % 300_000); // on a slot boundary of both windows
const VIP = '11.0.0.1:80/tcp';
const B1 = '10.0.1.2:8080';
const B2 = '10.0.1.3:8080';
const N1 = '10.0.0.2';
const N2 = '10.0.0.3';

t.test('a ring sums the spans of its window and forgets older ones', async (t) => {
  const r = new Ring(12, 5000, 2);
  r.add(T0, [1, 10]);
  r.add(T0 + 4999, [2, 20]);
  r.add(T0 + 5000, [4, 40]);
  t.same([...r.sum(T0 + 5000)], [7, 70], 'two spans, both in the window');
  t.same([...r.sum(T0 + 59_999)], [7, 70], 'the first span is still in the last minute at +59.999 s');
  t.same([...r.sum(T0 + 60_000)], [4, 40], 'at +60 s the first span left the window');
  t.same([...r.sum(T0 + 65_000)], [0, 0], 'at +65 s both did');
  t.ok(r.empty(T0 + 65_000));
  r.add(T0 + 60_000, [8, 80]); // same row as T0: reused, zeroed first
  t.same([...r.sum(T0 + 60_000)], [12, 120], 'a reused row holds only its new span');
  r.add(T0, [100, 100]);
  t.same([...r.sum(T0 + 60_000)], [12, 120], 'a late add for a span already out of the window is dropped');
  r.add(T0 + 70_000, [0, 0]);
  t.notOk(new Ring(2, 1000, 1).sum(0).some((x) => x !== 0), 'a fresh ring sums to zero');
  const zeros = new Ring(2, 1000, 1);
  zeros.add(T0, [0]);
  t.ok(zeros.empty(T0), 'adding only zeros leaves it empty');
  t.throws(() => new Ring(0, 1000, 1), /slots >= 1/);
});

t.test('percentiles from a cumulative histogram', async (t) => {
  const n = CONNECT_LATENCY_BUCKETS.length;
  const cum = (perBucket: Record<number, number>) => {
    const out: number[] = [];
    let acc = 0;
    for (let i = 0; i <= n; i++) out.push((acc += perBucket[i] ?? 0));
    return out;
  };
  const rows: [string, number, number[], number | undefined][] = [
    ['no samples', 0.5, cum({}), undefined],
    ['all in the first bucket: interpolated from 0', 0.5, cum({ 0: 10 }), 0.00025],
    ['p99 of all in the first bucket', 0.99, cum({ 0: 100 }), 0.000495],
    ['half fast, half in the 10-25 ms bucket: p50 at the top of the fast one', 0.5, cum({ 1: 50, 5: 50 }), 0.001],
    ['p99 inside the 10-25 ms bucket', 0.99, cum({ 1: 50, 5: 50 }), 0.01 + 0.015 * (49 / 50)],
    ['a rank in +Inf answers the highest finite bound', 0.99, cum({ 0: 1, [n]: 99 }), 2.5],
  ];
  for (const [name, q, counts, want] of rows) {
    const got = quantile(q, counts);
    if (want === undefined) t.equal(got, undefined, name);
    else t.ok(got !== undefined && Math.abs(got - want) < 1e-9, `${name}: ${got} ≈ ${want}`);
  }
});

function snap(node: string, since: number, backends: [string, number, number, number][], latency?: number[]): NodeNetMetrics {
  return {
    node,
    driver: 'userspace',
    measures: { connections: true, failures: true, bytes: true, latency: latency !== undefined },
    since,
    at: since,
    vips: [{ vip: VIP, name: 'web.marathon.l4lb.thisdcos.directory', backends: backends.map(([backend, connections, failures, bytes]) => ({ backend, connections, failures, bytes, ...(latency ? { latency: { counts: latency, sum: 0.01 } } : {}) })) }],
  };
}

const minute = (s: MetricsStore, backend: string, node: string, now: number) => [...s.vips.get(VIP)!.backends.get(backend)!.nodes.get(node)!.minute.sum(now)];

t.test('deltas between answers; restarts and resets start the counters again', async (t) => {
  const s = new MetricsStore({ startedAt: T0 });
  const old = T0 - 3_600_000; // counters that started before the store: the first answer is a baseline
  s.ingest(snap(N1, old, [[B1, 100, 10, 5000]]), T0);
  t.notOk(s.vips.has(VIP), 'the first answer of a node that started earlier is only a baseline');
  s.ingest(snap(N1, old, [[B1, 130, 25, 6000]]), T0 + 5000);
  t.same(minute(s, B1, N1, T0 + 5000), [30, 15, 1000, 30], 'second answer: the differences');
  s.ingest(snap(N1, old, [[B1, 130, 25, 6000], [B2, 7, 0, 70]]), T0 + 10_000);
  t.same(minute(s, B2, N1, T0 + 10_000), [7, 0, 70, 7], 'a backend new on a known node counts from zero');
  s.ingest(snap(N1, T0 + 12_000, [[B1, 4, 1, 40], [B2, 1, 0, 10]]), T0 + 15_000);
  t.same(minute(s, B1, N1, T0 + 15_000), [34, 16, 1040, 34], 'a new `since`: the driver restarted, its counters are the delta');
  s.ingest(snap(N1, T0 + 12_000, [[B1, 2, 0, 20], [B2, 3, 0, 30]]), T0 + 20_000);
  t.same(minute(s, B1, N1, T0 + 20_000), [36, 16, 1060, 36], 'a counter that went down without a new `since` is a reset too');
  t.same(minute(s, B2, N1, T0 + 20_000), [10, 0, 100, 10]);
  s.ingest(snap(N2, T0 + 1000, [[B1, 5, 5, 0]]), T0 + 20_000);
  t.same(minute(s, B1, N2, T0 + 20_000), [5, 5, 0, 5], 'a node first seen with counters younger than the store counts them all');
  t.same(figures(s.vips.get(VIP)!.backends.get(B1)!.nodes.get(N2)!.minute.sum(T0 + 20_000)), { connections: 5, failures: 5, bytes: 0, success_rate: 0 });
  t.same(minute(s, B1, N1, T0 + 80_000), [0, 0, 0, 0], 'a minute later the minute window is empty');
  t.equal(s.vips.get(VIP)!.backends.get(B1)!.nodes.get(N1)!.hour.sum(T0 + 80_000)[C.connections], 36, 'the hour window still has it');
  s.prune(T0 + 3_700_000);
  t.notOk(s.vips.has(VIP), 'an hour later everything is pruned');
  t.equal(s.seriesCount, 0);
});

t.test('a node that does not measure failures adds connections but no success rate', async (t) => {
  const s = new MetricsStore({ startedAt: T0 });
  const m = snap(N1, T0, [[B1, 10, 0, 0]]);
  m.measures.failures = false;
  delete m.vips[0]!.backends[0]!.failures;
  s.ingest(m, T0 + 1000);
  t.same(figures(s.vips.get(VIP)!.backends.get(B1)!.nodes.get(N1)!.minute.sum(T0 + 1000)), { connections: 10, failures: 0, bytes: 0, success_rate: null });
});

t.test('latency histograms: per-bucket deltas, windowed per backend', async (t) => {
  const n = CONNECT_LATENCY_BUCKETS.length + 1;
  const s = new MetricsStore({ startedAt: T0 });
  const cum = (k: number) => Array.from({ length: n }, (_, i) => (i >= 2 ? k : 0)); // all <= 2.5 ms
  s.ingest(snap(N1, T0, [[B1, 10, 0, 0]], cum(10)), T0 + 1000);
  s.ingest(snap(N1, T0, [[B1, 30, 0, 0]], cum(30)), T0 + 6000);
  const row = s.vips.get(VIP)!.backends.get(B1)!.latency.minute.sum(T0 + 6000);
  t.equal(row[n - 1], 30, '30 samples in the window');
  t.equal(quantile(0.5, [...row].slice(0, n)), 0.001 + 0.0015 * 0.5, 'p50 inside the 1-2.5 ms bucket');
});

t.test('series are bounded: beyond maxSeries new ones are dropped and counted', async (t) => {
  const s = new MetricsStore({ startedAt: T0, maxSeries: 2 });
  s.ingest(snap(N1, T0, [[B1, 1, 0, 0], [B2, 1, 0, 0], ['10.0.1.4:8080', 1, 0, 0]]), T0 + 1000);
  t.equal(s.seriesCount, 2);
  t.equal(s.dropped, 1);
  s.ingest(snap(N1, T0, [[B1, 0, 0, 0]]), T0 + 1000);
  const idle = new MetricsStore({ startedAt: T0 });
  idle.ingest(snap(N1, T0, [[B1, 0, 0, 0]]), T0 + 1000);
  t.equal(idle.seriesCount, 0, 'an idle backend costs no series');
});
