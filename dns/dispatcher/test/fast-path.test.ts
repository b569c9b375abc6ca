/**
 * The cache-hit fast path (UDP, key from the raw bytes): what it accepts, that its key is the
 * chain's key, and in a dispatcher: ID and TTLs of a hit, case-insensitive names, no hit across
 * QTYPE/QCLASS/CD/EDNS/DO/transport, expiry by an injected clock. Address plan: .1 dispatcher, .2 upstream.
 */
import t from 'tap';
import { FakeClock } from '../../../common/clock.js';
import { loopbackBlock } from '../../../test/lib/index.js';
import { AnswerCache } from '../cache.js';
import { cacheKey, peekUdpQuery, type Peek } from '../cache-key.js';
import { parseQuery } from '../wire.js';
import { answer, metric, query, scripted, startDispatcher, tcpAsk, udpAsk } from './helpers.js';

const A = 1;
const HTTPS = 65; // 0x41: upper-case 'A' as a byte, so lower-casing it would make it 97
const qEnd = (m: Buffer) => parseQuery(m).questionEnd;

/** `m` with bytes patched (flags, counts, class...). */
function patched(m: Buffer, edit: (b: Buffer) => void): Buffer {
  const b = Buffer.from(m);
  edit(b);
  return b;
}

/** Question `x.` whose end is a pointer to byte 4 of the header (0x00: the root): valid, but compressed. */
const compressed = (() => {
  const b = Buffer.from(query('x.test', A));
  return Buffer.concat([b.subarray(0, 12), Buffer.from([1, 0x78, 0xc0, 0x04]), b.subarray(b.length - 4)]);
})();

t.test('peekUdpQuery: plain queries in, everything unusual out', async (t) => {
  const rows: { name: string; msg: Buffer; ok: boolean; limit?: number }[] = [
    { name: 'plain A', msg: query('www.example.com', A), ok: true, limit: 512 },
    { name: 'EDNS0 4096', msg: query('www.example.com', A, { edns: 4096 }), ok: true, limit: 4096 },
    { name: 'EDNS0 size below 512', msg: query('www.example.com', A, { edns: 100 }), ok: true, limit: 512 },
    { name: 'root name', msg: query('', A), ok: true, limit: 512 },
    { name: 'two questions', msg: patched(query('a.test', A), (b) => b.writeUInt16BE(2, 4)), ok: false },
    { name: 'zero questions', msg: patched(query('a.test', A), (b) => b.writeUInt16BE(0, 4)), ok: false },
    { name: 'a response (QR)', msg: patched(query('a.test', A), (b) => (b[2]! |= 0x80)), ok: false },
    { name: 'opcode NOTIFY', msg: patched(query('a.test', A), (b) => (b[2]! |= 4 << 3)), ok: false },
    { name: 'answer count', msg: patched(query('a.test', A), (b) => b.writeUInt16BE(1, 6)), ok: false },
    { name: 'compressed question name', msg: compressed, ok: false },
    { name: 'truncated question', msg: query('a.test', A).subarray(0, 18), ok: false },
    { name: 'trailing bytes', msg: Buffer.concat([query('a.test', A), Buffer.from([0])]), ok: false },
    { name: 'additional record that is not OPT', msg: patched(query('a.test', A, { edns: 1232 }), (b) => (b[b.length - 9] = 1)), ok: false },
    { name: 'OPT with a wrong RDLEN', msg: patched(query('a.test', A, { edns: 1232 }), (b) => b.writeUInt16BE(4, b.length - 2)), ok: false },
  ];
  for (const row of rows) {
    const p: Peek = { questionEnd: 0, bits: 0, limit: 0 };
    t.equal(peekUdpQuery(row.msg, p), row.ok, row.name);
    if (!row.ok) continue;
    t.equal(p.limit, row.limit, `${row.name}: size limit`);
    t.equal(p.questionEnd, qEnd(row.msg), `${row.name}: question end`);
    t.equal(cacheKey(row.msg, p.questionEnd, p.bits), AnswerCache.key(row.msg, parseQuery(row.msg), 'udp'), `${row.name}: same key as the chain`);
  }
});

t.test('cache keys: case-insensitive names, distinct types, classes and bits', async (t) => {
  const key = (m: Buffer, transport = 'udp') => AnswerCache.key(m, parseQuery(m), transport);
  const base = query('www.example.com', A, { id: 1 });
  t.equal(key(query('WWW.Example.COM', A, { id: 2 })), key(base), 'case-insensitive, ID ignored');
  const differs: [string, Buffer, string?][] = [
    ['QTYPE 65 vs 97 (no lower-casing outside the name)', query('www.example.com', HTTPS)],
    ['QTYPE 97', query('www.example.com', 97)],
    ['QCLASS CH', patched(base, (b) => b.writeUInt16BE(3, b.length - 2))],
    ['CD', patched(base, (b) => (b[3]! |= 0x10))],
    ['EDNS0', query('www.example.com', A, { edns: 1232 })],
    ['EDNS0 DO', query('www.example.com', A, { edns: 1232, dnssecOk: true })],
    ['TCP', base, 'tcp'],
    ['another name', query('www.example.org', A)],
  ];
  for (const [name, m, transport] of differs) t.not(key(m, transport), key(base), name);
  t.not(key(query('www.example.com', HTTPS)), key(query('www.example.com', 97)), 'QTYPE 65 vs 97 between themselves');
  t.equal(key(compressed), undefined, 'a compressed question name is not cached');
});

t.test('in the dispatcher: hits over UDP', async (t) => {
  const ip = loopbackBlock();
  const clock = new FakeClock();
  const up = await scripted(t, ip(2), (q) => answer(q, ['1.2.3.4', '1.2.3.5'], { ttl: 30 }));
  const { d, udp, tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up.port}`] }, { clock });
  const end = qEnd(query('www.example.com', A));
  const ttls = (m: Buffer) => {
    return [m.readUInt32BE(end + 6), m.readUInt32BE(end + 16 + 6)];
  };

  const first = await udpAsk(ip(1), udp, query('www.example.com', A, { id: 0x1111 }));
  t.same(ttls(first), [30, 30], 'miss: upstream TTLs');
  clock.advance(999);
  const early = await udpAsk(ip(1), udp, query('www.example.com', A, { id: 0x2222 }));
  t.equal(early.readUInt16BE(0), 0x2222, 'hit: client ID');
  t.same(ttls(early), [30, 30], 'hit within the first second: TTLs unchanged (whole seconds)');
  clock.advance(6_600);
  const later = await udpAsk(ip(1), udp, query('WwW.ExAmPlE.CoM', A, { id: 0x3333 }));
  t.equal(later.readUInt16BE(0), 0x3333, 'hit: client ID');
  t.same(ttls(later), [23, 23], 'hit after 7.6 s: every TTL lowered by 7');
  t.equal(later.subarray(13, 16).toString(), 'WwW', 'hit: the client spelling of the name');
  t.equal(up.received.length, 1, 'upstream asked once');
  t.equal(await metric(d, 'sextant_dispatcher_cache_hits_total'), 2);
  t.equal(await metric(d, 'sextant_dispatcher_cache_misses_total'), 1);

  const variants: [string, () => Promise<Buffer>][] = [
    ['QTYPE 65', () => udpAsk(ip(1), udp, query('www.example.com', HTTPS))],
    ['QTYPE 97', () => udpAsk(ip(1), udp, query('www.example.com', 97))],
    ['QCLASS CH', () => udpAsk(ip(1), udp, patched(query('www.example.com', A), (b) => b.writeUInt16BE(3, b.length - 2)))],
    ['CD', () => udpAsk(ip(1), udp, patched(query('www.example.com', A), (b) => (b[3]! |= 0x10)))],
    ['EDNS0', () => udpAsk(ip(1), udp, query('www.example.com', A, { edns: 1232 }))],
    ['EDNS0 DO', () => udpAsk(ip(1), udp, query('www.example.com', A, { edns: 1232, dnssecOk: true }))],
    ['TCP', async () => (await tcpAsk(ip(1), tcp, [query('www.example.com', A)]))[0]!],
  ];
  for (const [name, ask] of variants) {
    const before = up.received.length;
    await ask();
    t.equal(up.received.length, before + 1, `${name}: not answered from the A/IN/UDP entry`);
  }

  clock.advance(30_000 - 7_599);
  await udpAsk(ip(1), udp, query('www.example.com', A));
  t.equal(up.received.length, 2 + variants.length, 'expired at the TTL: asked again');
  const fresh = await udpAsk(ip(1), udp, query('www.example.com', A, { id: 0x4444 }));
  t.same(ttls(fresh), [30, 30], 'the new entry has the new TTLs');
  t.equal(up.received.length, 2 + variants.length, 'and is a hit');
});

t.test('a hit that does not fit the client UDP size takes the full path', async (t) => {
  const ip = loopbackBlock();
  const many = Array.from({ length: 40 }, (_, i) => `10.0.0.${i}`); // 12 + 17 + 40 * 16 = 669 bytes
  const up = await scripted(t, ip(2), (q) => answer(q, many, { ttl: 30 }));
  const { udp, tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up.port}`] });
  await udpAsk(ip(1), udp, query('big.example.com', A, { edns: 4096 }));
  const hit = await udpAsk(ip(1), udp, query('big.example.com', A, { edns: 4096 }));
  t.equal(hit.readUInt16BE(6), 40, 'hit within the EDNS0 size');
  t.equal(up.received.length, 1);
  await udpAsk(ip(1), udp, query('big.example.com', A, { edns: 600 }));
  t.equal(up.received.length, 2, 'too big for 600 bytes: forwarded');
  await tcpAsk(ip(1), tcp, [query('big.example.com', A)]);
  t.equal(up.received.length, 3, 'TCP has its own entries');
});
