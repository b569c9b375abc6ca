// Pure parts of the dashboard's server side: Prometheus text, convergence history, series store.
import t from 'tap';
import { ConvergenceTracker } from '../convergence.js';
import { parsePromText, sumOf } from '../prom-text.js';
import { SeriesStore } from '../series.js';

t.test('prometheus text: sums by name and labels, skips comments and junk', async (t) => {
  const s = parsePromText(
    [
      '# HELP sextant_dispatcher_requests_total DNS queries received',
      '# TYPE sextant_dispatcher_requests_total counter',
      'sextant_dispatcher_requests_total{transport="udp"} 40',
      'sextant_dispatcher_requests_total{transport="tcp"} 2',
      'sextant_l4lb_backends{state="active",note="a \\"quoted\\" one"} 3',
      'sextant_l4lb_backends{state="draining"} 1',
      'sextant_l4lb_driver{driver="nftables"} 1',
      'not a metric line at all',
      'sextant_bad_value NaNx',
      '',
    ].join('\n'),
  );
  t.equal(sumOf(s, 'sextant_dispatcher_requests_total'), 42);
  t.equal(sumOf(s, 'sextant_l4lb_backends', { state: 'active' }), 3);
  t.equal(s.find((x) => x.labels.note)?.labels.note, 'a "quoted" one', 'escaped quotes in label values');
  t.equal(sumOf(s, 'sextant_missing'), undefined, 'absent metric: undefined, not 0');
  t.equal(s.find((x) => x.name === 'sextant_l4lb_driver')?.labels.driver, 'nftables');
});

t.test('convergence: from first seen to every connected agent ACKed, last hour only', async (t) => {
  const c = new ConvergenceTracker(3_600_000, 100);
  const at = (s: number) => 1_700_000_000_000 + s * 1000;
  const iso = (s: number) => new Date(at(s)).toISOString();
  const agents = (a: number, b: number, ack = 0) => [
    { agent_id: 'A', connected: true, applied: a, last_ack_at: iso(ack) },
    { agent_id: 'B', connected: true, applied: b, last_ack_at: iso(ack) },
    { agent_id: 'C', connected: false, applied: 1, last_ack_at: null },
  ];
  c.observe({ version: 5, agents: agents(4, 4) }, at(10));
  t.same(c.list().map((e) => [e.version, e.converged_at]), [[5, null]], 'seen, not applied anywhere');
  c.observe({ version: 5, agents: agents(5, 4, 11) }, at(11));
  t.equal(c.list()[0]!.converged_at, null, 'one agent behind: still open');
  c.observe({ version: 5, agents: agents(5, 5, 12.5) }, at(13));
  t.same(c.list()[0], { version: 5, changed_at: at(10), converged_at: at(12.5), seconds: 2.5, agents: 2 }, 'converged at the last ACK; the disconnected agent does not count');
  c.observe({ version: 6, agents: agents(6, 6, 13) }, at(14));
  t.equal(c.list()[1]!.seconds, 0, 'ACKed before the sample saw the version: 0 s, never negative');
  c.observe({ version: 7, agents: agents(6, 6, 13) }, at(15 + 3600));
  t.same(c.list().map((e) => e.version), [7], 'entries older than the window are dropped');
  // A master change before the version: timed from the change; a change that made no version is forgotten.
  const ch = new ConvergenceTracker();
  ch.observe({ version: 1, agents: agents(1, 1, 0) }, at(0));
  ch.changed(at(20));
  ch.changed(at(20.2));
  ch.observe({ version: 2, agents: agents(2, 2, 20.3) }, at(20.9));
  t.same([ch.list()[1]!.changed_at, ch.list()[1]!.seconds], [at(20), 0.3], 'from the first change to the last ACK');
  ch.changed(at(30));
  ch.observe({ version: 2, agents: agents(2, 2, 20.3) }, at(40));
  ch.observe({ version: 3, agents: agents(3, 3, 50.5) }, at(51));
  t.same([ch.list()[2]!.changed_at, ch.list()[2]!.seconds], [at(51), 0], 'a change with no version for longer than staleMs does not date a later one');
  const small = new ConvergenceTracker(3_600_000, 3);
  for (let v = 1; v <= 10; v++) small.observe({ version: v, agents: agents(v, v, v) }, at(v));
  t.same(small.list().map((e) => e.version), [8, 9, 10], 'at most max entries');
});

t.test('series: per-second rates from counters, gauges as they are, bounded', async (t) => {
  const s = new SeriesStore(5000, 20_000);
  t.equal(s.points, 4);
  const at = (n: number) => 1_700_000_000_000 + n * 5000;
  s.add(at(0), { dnsTotals: { 'mesos-dns': 100 }, open: { a: 1 }, backends: { a: 2 } });
  s.add(at(1), { dnsTotals: { 'mesos-dns': 150, d1: 10 }, open: { a: 3 }, backends: { a: 2, b: 2 } });
  s.add(at(2), { dnsTotals: { 'mesos-dns': 20, d1: 60 }, open: {}, backends: { a: 2, b: 2 }, nodes: { S0: { l4lb_driver: 'ipvs' } } });
  let j = s.json();
  t.same(j.dns['mesos-dns'], [null, 10, null], 'rate = delta / seconds; a counter that went down (restart) is a gap');
  t.same(j.dns.d1, [null, null, 10], 'a new series starts with gaps, then its rate');
  t.same(j.l4lb_open.a, [1, 3, null], 'a gauge missing from a sample is a gap');
  t.same(j.l4lb_backends.b, [null, 2, 2]);
  t.same(j.nodes, { S0: { l4lb_driver: 'ipvs' } });
  for (let n = 3; n < 10; n++) s.add(at(n), { dnsTotals: {}, open: {}, backends: { a: 1 } });
  j = s.json();
  t.equal(j.t.length, 4, 'the window holds points = window / interval');
  t.same(Object.keys(j.dns), [], 'series with no value left in the window are dropped');
  t.same(j.l4lb_backends.a, [1, 1, 1, 1]);
});
