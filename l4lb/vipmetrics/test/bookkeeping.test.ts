/**
 * Pure logic of the VIP metrics: the latency histogram and counters, what a snapshot lists and
 * forgets (fake clock), the bounded Prometheus labels and the series the registry exports.
 */
import t from 'tap';
import { FakeClock } from '../../../common/clock.js';
import { createRegistry } from '../../../common/metrics.js';
import { CONNECT_LATENCY_BUCKETS, type NodeNetMetrics } from '../../../contracts/index.js';
import type { Service } from '../../driver.js';
import { BackendCounters, VipCounters, bucketIndex, vipName } from '../counters.js';
import { BoundedLabels, OTHER } from '../labels.js';
import { registerVipSeries, seriesOf } from '../prometheus.js';
import { sortByBackend } from '../nft-counters.js';

const ALL = { connections: true, failures: true, bytes: true, latency: true };
const svc = (vip: string, port: number, protocol: 'tcp' | 'udp', backends: string[]): Service => ({
  key: `${protocol}/${vip}:${port}`,
  vip,
  port,
  protocol,
  backends: backends.map((b) => ({ ip: b.slice(0, b.lastIndexOf(':')).replace(/^\[|\]$/g, ''), port: Number(b.slice(b.lastIndexOf(':') + 1)), weight: 1 })),
});

t.test('latency buckets: upper bounds inclusive, +Inf last', async (t) => {
  const rows: [number, number][] = [
    [0, 0],
    [0.0005, 0],
    [0.00051, 1],
    [0.003, 3],
    [2.5, CONNECT_LATENCY_BUCKETS.length - 1],
    [2.6, CONNECT_LATENCY_BUCKETS.length],
  ];
  for (const [s, i] of rows) t.equal(bucketIndex(s), i, `${s} s -> bucket ${i}`);
});

t.test('backend counters: cumulative histogram as the contract wants it', async (t) => {
  const c = new BackendCounters();
  c.connected(0.0001);
  c.connected(0.003);
  c.connected(0.003);
  c.connected(10);
  c.connected(); // not measured: counted, not in the histogram
  const h = c.latency();
  t.equal(c.connections, 5);
  t.equal(h.counts.length, CONNECT_LATENCY_BUCKETS.length + 1);
  t.same(h.counts.slice(0, 5), [1, 1, 1, 3, 3], 'cumulative: counts[i] = latencies <= bound i');
  t.equal(h.counts.at(-2), 3, 'nothing in (1 s, 2.5 s]');
  t.equal(h.counts.at(-1), 4, '+Inf: every measured connection');
  t.equal(h.sum, 0.0001 + 0.003 + 0.003 + 10);
});

t.test('snapshot: programmed backends at zero, removed ones kept for a while then forgotten', async (t) => {
  const clock = new FakeClock();
  const v = new VipCounters(clock, 60_000);
  const web = svc('11.0.0.1', 80, 'tcp', ['10.0.0.1:7000', '10.0.0.2:7000']);
  const dns = svc('fd01:c::1', 53, 'udp', ['[fd78::1]:53']);
  v.backend(vipName(web), '10.0.0.1:7000').connected(0.001);
  v.backend(vipName(web), '10.0.0.1:7000').bytes += 100;
  v.backend(vipName(web), '10.0.0.2:7000').failures++;
  v.backend(vipName(dns), '[fd78::1]:53').connected();
  const snap = v.snapshot([web, dns], { fields: ALL, latencyFor: (p) => p === 'tcp' });
  t.same(
    snap.map((x) => x.vip),
    ['11.0.0.1:80/tcp', '[fd01:c::1]:53/udp'],
    'VIPs named IP:PORT/PROTO, IPv6 in brackets, sorted',
  );
  t.match(snap[0]!.backends, [
    { backend: '10.0.0.1:7000', connections: 1, failures: 0, bytes: 100 },
    { backend: '10.0.0.2:7000', connections: 0, failures: 1, bytes: 0 },
  ]);
  t.ok(snap[0]!.backends[0]!.latency, 'TCP has latency');
  t.notOk('latency' in snap[1]!.backends[0]!, 'UDP has none');
  const none = v.snapshot([], { fields: { ...ALL, latency: false, failures: false } });
  t.equal(none.length, 2, 'removed VIPs are still listed right after');
  t.notOk('failures' in none[0]!.backends[0]!, 'a figure the driver does not give is absent, not zero');
  clock.advance(30_000);
  v.backend(vipName(web), '10.0.0.1:7000').connected(0.001); // back within the retention: carries on
  t.equal(v.snapshot([web], { fields: ALL })[0]!.backends[0]!.connections, 2);
  clock.advance(60_001);
  t.same(v.snapshot([], { fields: ALL }), [], 'forgotten after the retention');
  t.equal(v.since, 1_700_000_000_000, 'since is the construction time');
});

t.test('bounded labels: cap, per-VIP overflow, other/other, sticky, freed when gone', async (t) => {
  const l = new BoundedLabels(3);
  const p = (vip: string, backend: string) => ({ vip, backend });
  const first = l.assign([p('a', '1'), p('a', '2'), p('b', '1'), p('a', '3'), p('c', '1')]);
  t.same(first, [p('a', '1'), p('a', '2'), p('b', '1'), p('a', OTHER), p(OTHER, OTHER)], 'first 3 own; then the VIP overflow; a VIP with no series: other/other');
  t.equal(l.size, 3);
  const again = l.assign([p('c', '1'), p('a', '1'), p('a', '2'), p('b', '1'), p('a', '3')]);
  t.same(again, [p(OTHER, OTHER), p('a', '1'), p('a', '2'), p('b', '1'), p('a', OTHER)], 'labels stick whatever the order');
  const freed = l.assign([p('a', '1'), p('d', '1'), p('a', '3'), p('e', '1')]);
  t.same(freed, [p('a', '1'), p('d', '1'), p('a', OTHER), p('e', '1')], 'pairs no longer reported free their places for new ones; an overflowed pair stays in its overflow series');
  t.throws(() => new BoundedLabels(0), RangeError);
  const many = new BoundedLabels(10);
  const pairs = Array.from({ length: 500 }, (_, i) => p(`v${i % 50}`, `b${i}`));
  const labels = many.assign(pairs);
  t.ok(new Set(labels.map((x) => `${x.vip}|${x.backend}`)).size <= 2 * 10 + 1, 'at most 2 x cap + 1 series');
});

const node = (vips: NodeNetMetrics['vips'], measures = ALL, since = 1): NodeNetMetrics => ({ node: '10.0.0.9', driver: 'userspace', measures, since, at: 2, vips });

t.test('series: overflow sums counters and histograms', async (t) => {
  const lat = (n: number) => ({ counts: [...new Array<number>(CONNECT_LATENCY_BUCKETS.length).fill(0), n], sum: n });
  const m = node([
    { vip: 'v', backends: [{ backend: 'b1', connections: 1, failures: 0, bytes: 10, latency: lat(1) }, { backend: 'b2', connections: 2, failures: 1, bytes: 20, latency: lat(2) }, { backend: 'b3', connections: 3, failures: 2, bytes: 30, latency: lat(3) }] },
  ]);
  const rows = seriesOf(m, new BoundedLabels(1));
  t.match(rows, [
    { labels: { vip: 'v', backend: 'b1' }, connections: 1 },
    { labels: { vip: 'v', backend: OTHER }, connections: 5, failures: 3, bytes: 50, sum: 5 },
  ]);
  t.equal(rows[1]!.counts!.at(-1), 5);
});

t.test('registry: the families, only the measured ones, one read per scrape', async (t) => {
  const registry = createRegistry();
  let reads = 0;
  let current: NodeNetMetrics | undefined;
  registerVipSeries(registry, async () => (reads++, current), 10);
  t.notMatch(await registry.metrics(), /sextant_l4lb_vip_connections_total\{/, 'nothing before the driver has metrics');
  current = node([{ vip: '11.0.0.1:80/tcp', backends: [{ backend: '10.0.0.1:7000', connections: 4, bytes: 400 }] }], { connections: true, failures: false, bytes: true, latency: false });
  reads = 0;
  const text = await registry.metrics();
  t.equal(reads, 1, 'one read for the four families');
  t.match(text, /# TYPE sextant_l4lb_vip_connections_total counter/);
  t.match(text, /sextant_l4lb_vip_connections_total\{vip="11.0.0.1:80\/tcp",backend="10.0.0.1:7000"\} 4/);
  t.match(text, /sextant_l4lb_vip_bytes_total\{vip="11.0.0.1:80\/tcp",backend="10.0.0.1:7000"\} 400/);
  t.notMatch(text, /sextant_l4lb_vip_failures_total\{/, 'failures not measured: no series');
  t.notMatch(text, /sextant_l4lb_vip_connect_latency_seconds_bucket/, 'latency not measured: no series');
  current = node([{ vip: 'v', backends: [{ backend: 'b', connections: 1, latency: { counts: [...new Array<number>(CONNECT_LATENCY_BUCKETS.length).fill(1), 1], sum: 0.0002 } }] }]);
  const h = await registry.metrics();
  t.match(h, /# TYPE sextant_l4lb_vip_connect_latency_seconds histogram/);
  t.match(h, /sextant_l4lb_vip_connect_latency_seconds_bucket\{vip="v",backend="b",le="0.0005"\} 1/);
  t.match(h, /sextant_l4lb_vip_connect_latency_seconds_bucket\{vip="v",backend="b",le="\+Inf"\} 1/);
  t.match(h, /sextant_l4lb_vip_connect_latency_seconds_count\{vip="v",backend="b"\} 1/);
  current = undefined;
  registry.resetMetrics();
  t.ok(await registry.metrics(), 'reset is harmless');
  registerVipSeries(registry, async () => node([{ vip: 'again', backends: [{ backend: 'b', connections: 9 }] }]), 10);
  t.match(await registry.metrics(), /sextant_l4lb_vip_connections_total\{vip="again",backend="b"\} 9/, 'registering again (a restart) swaps the source');
});

t.test('sortByBackend: the order of a string sort by backend name, for a VIP with a few backends and one with many', async (t) => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const n of [0, 1, 2, 3, 5, 16, 17, 40]) {
    const list = Array.from({ length: n }, (_, i) => ({ backend: `10.0.${Math.floor(rnd() * 3)}.${Math.floor(rnd() * 300)}:${Math.floor(rnd() * 40000)}`, connections: i }));
    const want = [...list].sort((a, b) => (a.backend < b.backend ? -1 : a.backend > b.backend ? 1 : a.connections - b.connections));
    const got = sortByBackend(list);
    t.equal(got, list, `n=${n}: in place`);
    t.same(got.map((b) => b.backend), want.map((b) => b.backend), `n=${n}: sorted by name`);
  }
  const same = [{ backend: 'b', connections: 1 }, { backend: 'a', connections: 2 }, { backend: 'b', connections: 3 }];
  t.same(sortByBackend(same).map((b) => b.connections), [2, 1, 3], 'equal names keep their order (stable, like Array sort)');
});
