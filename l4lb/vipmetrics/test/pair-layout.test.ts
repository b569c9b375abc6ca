/**
 * The VIP metrics read in layout form (issue #26, pair-layout.ts) without a kernel (a fake `nft`):
 * the programmed pairs' layout kept across reads, objects only for counted pairs, a never-counted
 * backend read as zero, a counted backend that goes idle then is removed and retained for
 * `retainMs`, counts after a restart of the counters, and the Prometheus series from the layout
 * equal to the ones from the contract's form (the old path) through all of it.
 */
import t from 'tap';
import { FakeClock } from '../../../common/clock.js';
import { createRegistry } from '../../../common/metrics.js';
import type { Service } from '../../driver.js';
import { NftCounters } from '../nft-counters.js';
import { BoundedLabels } from '../labels.js';
import { LayoutSeries, registerVipSeries, seriesOf } from '../prometheus.js';
import { PairLayout, toVipMetrics } from '../pair-layout.js';

const svc = (vip: string, port: number, backends: string[]): Service => ({
  key: `tcp/${vip}:${port}`,
  vip,
  port,
  protocol: 'tcp',
  backends: backends.map((b) => ({ ip: b.slice(0, b.lastIndexOf(':')).replace(/^\[|\]$/g, ''), port: Number(b.slice(b.lastIndexOf(':') + 1)), weight: 1 })),
});

/** A fake nft: `list` answers the elements set now (conns4/conns6 counters), `-f -` records deletes and clears on a table rewrite. */
function fakeNft() {
  const state = { elems: [] as { vip: string; backend: string; packets: number; set?: string }[], deleted: [] as string[], lists: 0 };
  const run = async (args: string[], input?: string): Promise<string> => {
    if (args[0] === '-f') {
      if ((input ?? '').includes('delete table')) state.elems = []; // install: the table from empty
      for (const line of (input ?? '').split('\n')) if (line.startsWith('delete element')) state.deleted.push(line);
      const gone = new Set(state.deleted.map((l) => /\{ (.*) \}/.exec(l)![1]));
      state.elems = state.elems.filter((e) => !gone.has(`${e.vip} . tcp . ${e.backend.slice(0, e.backend.lastIndexOf(':')).replace(/^\[|\]$/g, '')} . ${e.backend.slice(e.backend.lastIndexOf(':') + 1)}`));
      return '';
    }
    state.lists++;
    const sets = new Map<string, unknown[]>();
    for (const e of state.elems) {
      const ip = e.backend.slice(0, e.backend.lastIndexOf(':')).replace(/^\[|\]$/g, '');
      const port = Number(e.backend.slice(e.backend.lastIndexOf(':') + 1));
      const name = `${e.set ?? 'conns'}${e.vip.includes(':') ? 6 : 4}`;
      if (!sets.has(name)) sets.set(name, []);
      sets.get(name)!.push({ elem: { val: { concat: [e.vip, 'tcp', ip, port] }, counter: { packets: e.packets, bytes: 0 } } });
    }
    return JSON.stringify({ nftables: [...sets].map(([name, elem]) => ({ set: { name, elem } })) });
  };
  return { state, run };
}

const flat = (vips: { vip: string; backends: { backend: string; connections?: number; failures?: number }[] }[]) =>
  Object.fromEntries(vips.flatMap((v) => v.backends.map((b) => [`${v.vip} ${b.backend}`, [b.connections, b.failures]])));

t.test('the layout: sorted as the contract lists them, backends named once, kept while the services stay', async (t) => {
  const live = [svc('11.0.0.2', 80, ['10.0.0.9:7000', '10.0.0.1:7000']), svc('11.0.0.1', 81, ['10.0.0.1:7000']), svc('fd01::1', 80, ['[fd00::2]:80']), svc('11.0.0.3', 80, [])];
  const l = PairLayout.ofServices(live);
  t.same(l.vips, ['11.0.0.1:81/tcp', '11.0.0.2:80/tcp', '11.0.0.3:80/tcp', '[fd01::1]:80/tcp']);
  t.same(l.backends, ['10.0.0.1:7000', '10.0.0.1:7000', '10.0.0.9:7000', '[fd00::2]:80']);
  t.equal(l.backends[0], l.backends[1], 'one string for one backend address and port');
  t.same([...l.start], [0, 1, 3, 3, 4]);
  t.equal(l.pairIndex(l.vipIndex('11.0.0.2:80/tcp'), '10.0.0.9:7000'), 2);
  t.equal(l.pairIndex(l.vipIndex('11.0.0.2:80/tcp'), '10.0.0.5:7000'), -1);
  t.equal(l.pairIndex(l.vipIndex('nope'), '10.0.0.9:7000'), -1);
  const none = { measures: { connections: true, failures: true, bytes: false, latency: false }, since: 1, layout: l, counts: new Map() };
  t.same(
    toVipMetrics(none, new Map([['11.0.0.2:80/tcp', 'web']])).map((v) => [v.vip, v.name, v.backends.length]),
    [
      ['11.0.0.1:81/tcp', undefined, 1],
      ['11.0.0.2:80/tcp', 'web', 2],
      ['[fd01::1]:80/tcp', undefined, 1],
    ],
    'a VIP with no backend has no entry; names where given',
  );
});

t.test('reads: objects for counted pairs only; never counted reads as zero; the layout kept across reads', async (t) => {
  const clock = new FakeClock();
  const nft = fakeNft();
  const c = new NftCounters(nft.run, 'sx', { clock, retainMs: 60_000 });
  const live = Array.from({ length: 50 }, (_, i) => svc(`11.0.0.${i + 1}`, 80, [`10.0.1.${i}:7000`, `10.0.2.${i}:7000`, `10.0.3.${i}:7000`]));
  const r1 = await c.readCounts(live);
  t.equal(r1.layout.pairs, 150, 'every programmed pair in the layout');
  t.equal(r1.counts.size, 0, 'no counts object while nothing is counted');
  t.ok(Object.values(flat(toVipMetrics(r1))).every(([n, f]) => n === 0 && f === 0), 'every pair reads zero');
  nft.state.elems.push({ vip: '11.0.0.7', backend: '10.0.2.6:7000', packets: 5 }, { vip: '11.0.0.7', backend: '10.0.2.6:7000', packets: 2, set: 'fails' });
  const r2 = await c.readCounts([...live]);
  t.equal(r2.layout, r1.layout, 'the same services in a new list: the same layout');
  t.equal(r2.counts.size, 1, 'one counted pair, one object');
  t.same(flat(toVipMetrics(r2))['11.0.0.7:80/tcp 10.0.2.6:7000'], [5, 2]);
  t.same(flat((await c.read(live)).vips)['11.0.0.8:80/tcp 10.0.2.7:7000'], [0, 0], 'a backend never counted: zero in the contract form');
  const r3 = await c.readCounts([...live, svc('11.0.9.9', 80, ['10.0.9.9:80'])]);
  t.not(r3.layout, r1.layout, 'a service added: a new layout');
  t.equal(r3.layout.pairs, 151);
});

t.test('a backend counted, then idle, then removed: retained for retainMs, then gone (layout and series)', async (t) => {
  const clock = new FakeClock();
  const nft = fakeNft();
  const c = new NftCounters(nft.run, 'sx', { clock, retainMs: 60_000 });
  const both = [svc('11.0.0.1', 80, ['10.0.0.1:7000', '10.0.0.2:7000']), svc('11.0.0.5', 80, ['10.0.0.5:7000'])];
  const reg = createRegistry();
  let live = both;
  registerVipSeries(reg, () => c.readCounts(live), 10);
  nft.state.elems.push({ vip: '11.0.0.1', backend: '10.0.0.2:7000', packets: 3 }, { vip: '11.0.0.5', backend: '10.0.0.5:7000', packets: 1 });
  t.match(await reg.metrics(), /sextant_l4lb_vip_connections_total\{vip="11.0.0.1:80\/tcp",backend="10.0.0.2:7000"\} 3/, 'counted');
  clock.advance(10_000);
  t.match(await reg.metrics(), /sextant_l4lb_vip_connections_total\{vip="11.0.0.1:80\/tcp",backend="10.0.0.2:7000"\} 3/, 'idle: the count stays');
  // 10.0.0.2 leaves 11.0.0.1, and 11.0.0.5 goes altogether.
  live = [svc('11.0.0.1', 80, ['10.0.0.1:7000'])];
  clock.advance(10_000);
  const a = await c.readCounts(live);
  t.same(a.layout.vips, ['11.0.0.1:80/tcp', '11.0.0.5:80/tcp'], 'a retained VIP keeps its entry');
  t.same(flat(toVipMetrics(a)), { '11.0.0.1:80/tcp 10.0.0.1:7000': [0, 0], '11.0.0.1:80/tcp 10.0.0.2:7000': [3, 0], '11.0.0.5:80/tcp 10.0.0.5:7000': [1, 0] });
  clock.advance(10_000);
  const b = await c.readCounts(live);
  t.equal(b.layout, a.layout, 'the same retained pairs: the same layout');
  const text = await reg.metrics();
  t.match(text, /sextant_l4lb_vip_connections_total\{vip="11.0.0.1:80\/tcp",backend="10.0.0.2:7000"\} 3/, 'removed, within retainMs: still in its series');
  t.match(text, /sextant_l4lb_vip_connections_total\{vip="11.0.0.5:80\/tcp",backend="10.0.0.5:7000"\} 1/);
  t.same(nft.state.deleted, []);
  clock.advance(50_000); // 70 s after the last read that had them programmed
  const gone = await c.readCounts(live);
  t.same(flat(toVipMetrics(gone)), { '11.0.0.1:80/tcp 10.0.0.1:7000': [0, 0] }, 'past retainMs: not reported');
  t.equal(gone.layout.pairs, 1);
  t.equal(nft.state.deleted.length, 2, 'and their elements deleted');
  t.equal(c.heldFlows, 0);
  t.notMatch(await reg.metrics(), /10\.0\.0\.2:7000|11\.0\.0\.5/, 'and out of the series');
});

t.test('counts after the counters restart (driver restart): zero again, labels assigned again', async (t) => {
  const clock = new FakeClock();
  const nft = fakeNft();
  const c = new NftCounters(nft.run, 'sx', { clock, retainMs: 60_000 });
  const live = [svc('11.0.0.1', 80, ['10.0.0.1:7000', '10.0.0.2:7000', '10.0.0.3:7000'])];
  await c.install();
  nft.state.elems.push({ vip: '11.0.0.1', backend: '10.0.0.3:7000', packets: 9 });
  const reg = createRegistry();
  registerVipSeries(reg, () => c.readCounts(live), 1);
  const before = await reg.metrics();
  t.match(before, /sextant_l4lb_vip_connections_total\{vip="11.0.0.1:80\/tcp",backend="10.0.0.1:7000"\} 0/, 'the first pair has the one series of its own');
  t.match(before, /sextant_l4lb_vip_connections_total\{vip="11.0.0.1:80\/tcp",backend="other"\} 9/);
  const since = c.since;
  clock.advance(1000);
  await c.install(); // the kernel table from empty, `since` moves
  t.not(c.since, since);
  nft.state.elems.push({ vip: '11.0.0.1', backend: '10.0.0.1:7000', packets: 2 });
  const r = await c.readCounts(live);
  t.same(flat(toVipMetrics(r)), { '11.0.0.1:80/tcp 10.0.0.1:7000': [2, 0], '11.0.0.1:80/tcp 10.0.0.2:7000': [0, 0], '11.0.0.1:80/tcp 10.0.0.3:7000': [0, 0] }, 'counts from the new table only');
  const after = await reg.metrics();
  t.match(after, /sextant_l4lb_vip_connections_total\{vip="11.0.0.1:80\/tcp",backend="10.0.0.1:7000"\} 2/);
  t.match(after, /sextant_l4lb_vip_connections_total\{vip="11.0.0.1:80\/tcp",backend="other"\} 0/);
});

t.test('series from the layout equal the series from the contract form, read after read', async (t) => {
  const clock = new FakeClock();
  const nft = fakeNft();
  const c = new NftCounters(nft.run, 'sx', { clock, retainMs: 30_000 });
  const labelsA = new BoundedLabels(7);
  const fromLayout = new LayoutSeries(labelsA);
  const labelsB = new BoundedLabels(7);
  let live = Array.from({ length: 12 }, (_, i) => svc(`11.0.0.${i + 1}`, 80 + (i % 2), [`10.0.0.${i % 4}:${7000 + i}`, `10.0.0.9:${7000 + (i % 3)}`]));
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let step = 0; step < 40; step++) {
    if (rand(3) === 0) {
      const s = live[rand(live.length)]!;
      nft.state.elems.push({ vip: s.vip, backend: `${s.backends[0]!.ip}:${s.backends[0]!.port}`, packets: 1 + rand(5), set: rand(2) ? 'conns' : 'fails' });
    }
    if (rand(5) === 0) live = live.filter((_, i) => i !== rand(live.length)); // a service goes
    if (rand(5) === 0) live = [...live, svc(`11.0.1.${step}`, 80, [`10.0.0.${rand(4)}:${7000 + rand(12)}`])]; // one comes
    clock.advance(5000);
    const r = await c.readCounts(live);
    const want = seriesOf({ vips: toVipMetrics(r) }, labelsB).map((x) => ({ labels: { ...x.labels }, connections: x.connections, failures: x.failures, bytes: x.bytes }));
    const got = fromLayout.rows(r).map((x) => ({ labels: { ...x.labels }, connections: x.connections, failures: x.failures, bytes: x.bytes }));
    t.same(got, want, `step ${step}`);
  }
});
