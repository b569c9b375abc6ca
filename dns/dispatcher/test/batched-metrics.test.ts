/** Batched metrics export exactly what plain prom-client metrics export for the same events. */
import t from 'tap';
import { createRegistry, prom } from '../../../common/metrics.js';
import { BatchedCounter, BatchedHistogram } from '../batched-metrics.js';

const buckets = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

const cases: { name: string; values: [string, number][] }[] = [
  { name: 'empty', values: [] },
  { name: 'one zone', values: [['.', 0.00002]] },
  {
    name: 'many zones, every bucket and beyond the last',
    values: [...buckets, 0.00005, 7, 0.3, 5, 1].flatMap((v, i) => [
      ['.', v] as [string, number],
      [i % 2 ? 'mesos' : 'example.com', v / 2] as [string, number],
    ]),
  },
];

function strip(text: string, name: string): string {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) || l.startsWith(`${name}_`))
    .map((l) => l.replace(name, 'X'))
    // Sums are added in another order: equal to 12 digits.
    .map((l) => (l.startsWith('X_sum') ? l.replace(/ ([\d.e+-]+)$/, (_, v: string) => ` ${Number(v).toPrecision(12)}`) : l))
    .join('\n');
}

for (const c of cases) {
  t.test(`histogram: ${c.name}`, async (t) => {
    const r = createRegistry();
    const fast = new BatchedHistogram(r, { name: 'fast_seconds', help: 'h', labelNames: ['zone'], buckets });
    const plain = new prom.Histogram({ name: 'plain_seconds', help: 'h', labelNames: ['zone'], buckets, registers: [r] });
    // Half before a scrape, half after: folding twice must add up.
    const half = c.values.length >> 1;
    for (const [zone, v] of c.values.slice(0, half)) {
      fast.cell({ zone }).observe(v);
      plain.labels(zone).observe(v);
    }
    await r.metrics();
    for (const [zone, v] of c.values.slice(half)) {
      fast.cell({ zone }).observe(v);
      plain.labels(zone).observe(v);
    }
    const text = await r.metrics();
    t.equal(strip(text, 'fast_seconds'), strip(text, 'plain_seconds'));
    const json = await fast.metric.get();
    const count = json.values.filter((v) => v.metricName === 'fast_seconds_count').reduce((s, v) => s + v.value, 0);
    t.equal(count, c.values.length, 'get() sees every observation');
  });
}

t.test('counter: cells per label set, folded at each scrape', async (t) => {
  const r = createRegistry();
  const fast = new BatchedCounter(r, { name: 'fast_total', help: 'c', labelNames: ['transport'] });
  const udp = fast.cell({ transport: 'udp' });
  const tcp = fast.cell({ transport: 'tcp' });
  for (let i = 0; i < 5; i++) udp.inc();
  tcp.inc();
  t.match(await r.metrics(), /fast_total\{transport="udp"\} 5/);
  udp.inc();
  const m = await fast.metric.get();
  t.same(
    m.values.map((v) => [v.labels.transport, v.value]).sort(),
    [
      ['tcp', 1],
      ['udp', 6],
    ],
  );
  t.equal(fast.cell({ transport: 'udp' }), udp, 'one cell per label set');
});
