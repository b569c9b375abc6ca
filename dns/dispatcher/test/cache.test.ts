/**
 * The answer cache: TTLs honoured with an injected clock (no sleeping), negative answers by the
 * SOA minimum, what is never cached, the cap; and in the dispatcher: hits spare the upstream,
 * .mesos is never cached. Address plan: .1 dispatcher, .2 upstream, .3 Mesos-DNS.
 */
import t from 'tap';
import { FakeClock } from '../../../common/clock.js';
import { loopbackBlock } from '../../../test/lib/index.js';
import { AnswerCache } from '../cache.js';
import { parseQuery } from '../wire.js';
import { answer, metric, query, scripted, startDispatcher, udpAsk } from './helpers.js';

const A = 1;

/** An NXDOMAIN with an SOA (ttl, minimum) in authority. */
function nxdomain(q: Buffer, ttl: number, minimum: number): Buffer {
  const soa = Buffer.alloc(2 + 10 + 2 + 2 + 20);
  soa.writeUInt16BE(0xc00c, 0);
  soa.writeUInt16BE(6, 2);
  soa.writeUInt16BE(1, 4);
  soa.writeUInt32BE(ttl, 6);
  soa.writeUInt16BE(24, 10);
  soa.writeUInt16BE(0xc00c, 12);
  soa.writeUInt16BE(0xc00c, 14);
  soa.writeUInt32BE(minimum, soa.length - 4);
  const m = answer(q, [], { rcode: 3, raw: [soa] });
  m.writeUInt16BE(0, 6);
  m.writeUInt16BE(1, 8);
  return m;
}

const ttlOfFirst = (m: Buffer, qlen: number) => m.readUInt32BE(12 + qlen + 6);

t.test('AnswerCache table', async (t) => {
  const q = query('a.test', A, { id: 1 });
  const qlen = parseQuery(q).questionEnd - 12;
  const rows: { name: string; msg: Buffer; cachedFor?: number }[] = [
    { name: 'positive, TTL 60', msg: answer(q, ['1.1.1.1'], { ttl: 60 }), cachedFor: 60 },
    { name: 'positive, capped by max_ttl 120', msg: answer(q, ['1.1.1.1'], { ttl: 86400 }), cachedFor: 120 },
    { name: 'negative: SOA minimum below its TTL', msg: nxdomain(q, 300, 10), cachedFor: 10 },
    { name: 'negative: SOA TTL below its minimum', msg: nxdomain(q, 7, 600), cachedFor: 7 },
    { name: 'SERVFAIL never', msg: answer(q, [], { rcode: 2 }) },
    { name: 'truncated never', msg: answer(q, ['1.1.1.1'], { tc: true }) },
    { name: 'TTL 0 never', msg: answer(q, ['1.1.1.1'], { ttl: 0 }) },
    { name: 'NODATA without SOA never', msg: answer(q, []) },
  ];
  for (const row of rows) {
    const clock = new FakeClock();
    const c = new AnswerCache(clock, 10, 120);
    const key = AnswerCache.key(q, parseQuery(q), 'udp')!;
    c.put(key, row.msg);
    const q2 = query('A.TEST', A, { id: 2 });
    if (row.cachedFor === undefined) {
      t.equal(c.get(key, q2, parseQuery(q2).questionEnd, 512), undefined, row.name);
      continue;
    }
    const hit = c.get(key, q2, parseQuery(q2).questionEnd, 512)!;
    t.ok(hit, `${row.name}: hit`);
    t.equal(hit.readUInt16BE(0), 2, `${row.name}: client ID`);
    t.equal(hit.subarray(13, 14).toString(), 'A', `${row.name}: client spelling`);
    clock.advance((row.cachedFor - 1) * 1000);
    const late = c.get(key, q2, parseQuery(q2).questionEnd, 512)!;
    t.ok(late, `${row.name}: still there 1 s before expiry`);
    t.equal(ttlOfFirst(late, qlen), 1, `${row.name}: TTL counted down to 1`);
    clock.advance(1000);
    t.equal(c.get(key, q2, parseQuery(q2).questionEnd, 512), undefined, `${row.name}: gone at expiry`);
  }
});

t.test('AnswerCache cap evicts the least recently used', async (t) => {
  const c = new AnswerCache(new FakeClock(), 2, 3600);
  const names = ['a.test', 'b.test', 'c.test'];
  const keys = names.map((n) => AnswerCache.key(query(n, A), parseQuery(query(n, A)), 'udp')!);
  const qs = names.map((n) => query(n, A));
  c.put(keys[0]!, answer(qs[0]!, ['1.1.1.1']));
  c.put(keys[1]!, answer(qs[1]!, ['1.1.1.2']));
  t.ok(c.get(keys[0]!, qs[0]!, parseQuery(qs[0]!).questionEnd, 512), 'touch a');
  c.put(keys[2]!, answer(qs[2]!, ['1.1.1.3']));
  t.equal(c.size, 2);
  t.ok(c.get(keys[0]!, qs[0]!, parseQuery(qs[0]!).questionEnd, 512), 'a kept (recently used)');
  t.equal(c.get(keys[1]!, qs[1]!, parseQuery(qs[1]!).questionEnd, 512), undefined, 'b evicted');
});

t.test('in the dispatcher: hits spare the upstream, expiry by the clock, .mesos never cached', async (t) => {
  const ip = loopbackBlock();
  const clock = new FakeClock();
  const up = await scripted(t, ip(2), (q) => answer(q, ['1.2.3.4'], { ttl: 30 }));
  const mesos = await scripted(t, ip(3), (q) => answer(q, ['10.3.0.1'], { ttl: 30 }));
  const { d, udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up.port}`], mesos_resolvers: [`${ip(3)}:${mesos.port}`] }, { clock });
  for (let i = 0; i < 3; i++) await udpAsk(ip(1), udp, query('www.example.com', A));
  t.equal(up.received.length, 1, 'upstream asked once');
  t.equal(await metric(d, 'sextant_dispatcher_cache_hits_total'), 2);
  t.equal(await metric(d, 'sextant_dispatcher_cache_misses_total'), 1);
  clock.advance(31_000);
  await udpAsk(ip(1), udp, query('www.example.com', A));
  t.equal(up.received.length, 2, 'asked again after the TTL');
  for (let i = 0; i < 3; i++) await udpAsk(ip(1), udp, query('app.marathon.mesos', A));
  t.equal(mesos.received.length, 3, '.mesos is never cached');
});

t.test('cache can be turned off', async (t) => {
  const ip = loopbackBlock();
  const up = await scripted(t, ip(2), (q) => answer(q, ['1.2.3.4']));
  const { udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up.port}`], cache: { enabled: false } });
  for (let i = 0; i < 3; i++) await udpAsk(ip(1), udp, query('www.example.com', A));
  t.equal(up.received.length, 3);
});
