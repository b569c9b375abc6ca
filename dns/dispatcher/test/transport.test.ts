/**
 * Byte-for-byte pass-through (EDNS0 options, DO bit, unknown RR types), transport following the
 * client, large answers, pipelined TCP, bad input and handler_limit. Real dnsmasq and scripted peers.
 * Address plan: .1 dispatcher, .2 upstream.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import t from 'tap';
import { eventually, loopbackBlock } from '../../../test/lib/index.js';
import { nativeUdp } from '../../../common/udp-batch.js';
import { addresses, answer, frame, metric, query, rcode, scripted, startDispatcher, startDnsmasq, tc, tcpAsk, udpAsk } from './helpers.js';

const A = 1;

/** A query with EDNS0 (DO set) carrying an unknown option, for an unknown type in class CH. */
function oddQuery(): Buffer {
  const q = query('odd.test', 65400, { id: 777, edns: 4096, dnssecOk: true });
  q.writeUInt16BE(3, q.length - 11 - 2); // class CH
  const opt = Buffer.from([0xfd, 0xe9, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef]);
  const out = Buffer.concat([q, opt]);
  out.writeUInt16BE(opt.length, out.length - opt.length - 2);
  return out;
}

t.test('EDNS0, DO, unknown options, types and classes pass through byte for byte, both ways', async (t) => {
  const ip = loopbackBlock();
  let reply: Buffer | undefined;
  const up = await scripted(t, ip(2), (q) => {
    const unknownRR = Buffer.from([0xc0, 0x0c, 0xff, 0x78, 0x00, 0x03, 0, 0, 0, 30, 0, 5, 104, 101, 108, 108, 111]);
    reply = answer(q, [], { raw: [unknownRR] });
    return reply;
  });
  const { udp, tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up.port}`] });
  const q = oddQuery();
  const viaUdp = await udpAsk(ip(1), udp, q);
  t.same(up.received[0], q, 'upstream received exactly the client bytes');
  t.same(viaUdp, reply, 'client received exactly the upstream bytes');
  const [viaTcp] = await tcpAsk(ip(1), tcp, [q]);
  t.same(up.received[1], q, 'same over TCP');
  t.same(viaTcp, reply);
});

t.test('transport follows the client: UDP to UDP, TCP to TCP', async (t) => {
  const ip = loopbackBlock();
  const seen: string[] = [];
  const up = await scripted(t, ip(2), (q, transport) => {
    seen.push(transport);
    return answer(q, ['1.2.3.4']);
  });
  const { udp, tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up.port}`], cache: { enabled: false } });
  await udpAsk(ip(1), udp, query('a.test', A));
  await tcpAsk(ip(1), tcp, [query('a.test', A)]);
  t.same(seen, ['udp', 'tcp']);
});

t.test('large answers: TC over UDP, whole over TCP (real dnsmasq)', async (t) => {
  const ip = loopbackBlock();
  const hosts = Array.from({ length: 60 }, (_, i) => `10.9.0.${i + 1} big.test`).join('\n') + '\n';
  const up = await startDnsmasq(t, ip(2), { hosts });
  const { udp, tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up}`] });
  const overUdp = await udpAsk(ip(1), udp, query('big.test', A));
  t.ok(tc(overUdp), 'TC set over UDP');
  t.ok(overUdp.length <= 512, `UDP answer ${overUdp.length} bytes`);
  const [overTcp] = await tcpAsk(ip(1), tcp, [query('big.test', A)]);
  t.notOk(tc(overTcp!), 'no TC over TCP');
  t.equal(addresses(overTcp!).length, 60, 'all 60 addresses over TCP');
  const again = await udpAsk(ip(1), udp, query('big.test', A));
  t.ok(tc(again), 'a TCP answer in the cache is never served to a UDP client');
});

t.test('pipelined TCP queries are answered by ID in any order', async (t) => {
  const ip = loopbackBlock();
  const up = await scripted(t, ip(2), (q) => {
    const slow = q.includes(Buffer.from('slow'));
    return new Promise((r) => setTimeout(() => r(answer(q, [slow ? '1.1.1.1' : '2.2.2.2'])), slow ? 300 : 10));
  });
  const { tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up.port}`] });
  const answers = await tcpAsk(ip(1), tcp, [query('slow.test', A, { id: 1 }), query('fast.test', A, { id: 2 }), query('fast2.test', A, { id: 3 })]);
  t.same(
    answers.map((a) => a.readUInt16BE(0)),
    [2, 3, 1],
    'fast answers are not held behind the slow one',
  );
  t.same(addresses(answers[2]!), ['1.1.1.1']);
});

t.test('idle TCP connections are closed', async (t) => {
  const ip = loopbackBlock();
  const { tcp } = await startDispatcher(t, ip(1), { tcp_idle_timeout: 150 });
  const t0 = Date.now();
  await new Promise<void>((resolve) => net.connect({ host: ip(1), port: tcp }).on('close', () => resolve()).on('error', () => {}));
  t.ok(Date.now() - t0 < 2000, `closed after ${Date.now() - t0} ms`);
});

function silence(host: string, port: number, msg: Buffer, ms = 200): Promise<Buffer | 'silent'> {
  return udpAsk(host, port, msg, ms).catch(() => 'silent' as const);
}

t.test('bad input: FORMERR or drop, never a crash', async (t) => {
  const ip = loopbackBlock();
  const up = await scripted(t, ip(2), (q) => answer(q, ['1.2.3.4']));
  const { d, udp, tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up.port}`] });
  const good = query('ok.test', A, { id: 99 });
  const zeroQ = Buffer.from(good.subarray(0, 12));
  zeroQ.writeUInt16BE(0, 4);
  const twoQ = Buffer.concat([good, good.subarray(12)]);
  twoQ.writeUInt16BE(2, 4);
  const cut = good.subarray(0, good.length - 3);
  const loop = Buffer.concat([good.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
  const response = Buffer.from(good);
  response[2]! |= 0x80;
  const rows: [string, Buffer, 'formerr' | 'silent'][] = [
    ['empty', Buffer.alloc(0), 'silent'],
    ['5 bytes', Buffer.from([1, 2, 3, 4, 5]), 'silent'],
    ['zero questions', zeroQ, 'formerr'],
    ['two questions', twoQ, 'formerr'],
    ['truncated question', cut, 'formerr'],
    ['pointer loop', loop, 'formerr'],
    ['a response, not a query', response, 'silent'],
  ];
  for (const [name, msg, want] of rows) {
    const r = await silence(ip(1), udp, msg);
    if (want === 'silent') t.equal(r, 'silent', name);
    else t.equal(r !== 'silent' && rcode(r), 1, `${name}: FORMERR`);
  }
  t.ok((await metric(d, 'sextant_dispatcher_malformed_total')) >= rows.length - 1);
  for (const len of [0, 60000]) {
    const got: Buffer[] = [];
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: ip(1), port: tcp }, () => s.write(Buffer.concat([Buffer.from([len >> 8, len & 0xff]), Buffer.alloc(100)])));
      s.on('data', (d) => got.push(d));
      s.on('close', () => resolve(true));
      s.on('error', () => {});
      setTimeout(() => resolve(false), 2000);
    });
    t.ok(closed, `TCP frame of ${len} bytes closes the connection`);
    // Issue #24: a frame with an ID (the 60000-byte one has one) is answered FORMERR before the close.
    if (len) t.equal(rcode(Buffer.concat(got).subarray(2)), 1, `TCP frame of ${len} bytes: FORMERR, then the close`);
    else t.equal(Buffer.concat(got).length, 0, 'an empty frame has no ID to answer: closed without an answer');
  }
  const [bad, ok] = await tcpAsk(ip(1), tcp, [Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), good], 2);
  t.equal(rcode(bad!), 1, 'FORMERR for a malformed message inside a good frame');
  t.same(addresses(ok!), ['1.2.3.4'], 'and the connection goes on');
  t.same(addresses(await udpAsk(ip(1), udp, good)), ['1.2.3.4'], 'still answering');
});

t.test('handler_limit: excess queries are refused at once, not queued', async (t) => {
  const ip = loopbackBlock();
  const up = await scripted(t, ip(2), () => undefined);
  const { d, udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up.port}`], handler_limit: 2, timeout: 800 });
  const s = dgram.createSocket('udp4');
  t.teardown(() => s.close());
  const got: { id: number; rcode: number; at: number }[] = [];
  const t0 = Date.now();
  s.on('message', (m) => got.push({ id: m.readUInt16BE(0), rcode: rcode(m), at: Date.now() - t0 }));
  await new Promise<void>((r) => s.bind(0, ip(1), () => r()));
  for (let i = 1; i <= 5; i++) s.send(query(`q${i}.test`, A, { id: i }), udp, ip(1));
  await eventually(() => got.length === 5, 3000, 20, 'five answers');
  const refused = got.filter((g) => g.rcode === 5);
  t.equal(refused.length, 3, '3 refused');
  t.ok(refused.every((g) => g.at < 600), 'refused at once, not after the 800 ms upstream timeout');
  t.equal(got.filter((g) => g.rcode === 2).length, 2, 'the 2 admitted end in SERVFAIL after the timeout');
  t.equal(await metric(d, 'sextant_dispatcher_refused_total'), 3);
});

t.test('a UDP query over 4096 bytes is dropped and counted; the next one is answered', { skip: !nativeUdp() && 'dgram sockets take any size' }, async (t) => {
  const ip = loopbackBlock();
  const up = await startDnsmasq(t, ip(2), { addresses: { 'big.test': '10.7.7.7' } });
  const { d, udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up}`] });
  const huge = Buffer.concat([query('big.test', A, { edns: 4096 }), Buffer.alloc(5000)]);
  const unanswered = udpAsk(ip(1), udp, huge, 2000).then(() => 'answered', () => 'no answer');
  await eventually(async () => (await metric(d, 'sextant_dispatcher_udp_dropped_total', { reason: 'oversized_query' })) === 1, 2000, 10, 'the drop counted');
  t.same(addresses(await udpAsk(ip(1), udp, query('big.test', A))), ['10.7.7.7']);
  t.equal(await metric(d, 'sextant_dispatcher_requests_total'), 1, 'only the second reached the handler');
  t.equal(await unanswered, 'no answer');
});
