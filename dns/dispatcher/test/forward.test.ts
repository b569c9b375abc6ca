/**
 * Forwarding against real peers on loopback: dnsmasq upstreams and scripted servers for faults.
 * Address plan: one loopback /24 per test; .1 dispatcher, .2/.3/.4 upstreams, .9 spoofer.
 */
import t from 'tap';
import { eventually, loopbackBlock } from '../../../test/lib/index.js';
import { answer, addresses, metric, query, rcode, scripted, startDispatcher, startDnsmasq, udpAsk } from './helpers.js';

const A = 1;

t.test('answers from a dnsmasq upstream pass through unchanged', async (t) => {
  const ip = loopbackBlock();
  const up = await startDnsmasq(t, ip(2), { addresses: { 'x.test': '1.2.3.4' } });
  const { udp, tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up}`] });
  const viaUs = await udpAsk(ip(1), udp, query('www.x.test', A, { id: 4242 }));
  const direct = await udpAsk(ip(2), up, query('www.x.test', A, { id: 4242 }));
  t.same(addresses(viaUs), ['1.2.3.4']);
  t.equal(viaUs.readUInt16BE(0), 4242, 'ID kept');
  t.same(viaUs, direct, 'byte for byte what the upstream says');
  t.ok(tcp > 0);
});

t.test('one upstream dead: the other answers with no added timeout', async (t) => {
  const ip = loopbackBlock();
  const up = await startDnsmasq(t, ip(2), { addresses: { 'x.test': '1.2.3.4' } });
  const dead = await scripted(t, ip(3), () => undefined);
  const { udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(3)}:${dead.port}`, `${ip(2)}:${up}`], timeout: 3000, cache: { enabled: false } });
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    const r = await udpAsk(ip(1), udp, query(`n${i}.x.test`, A));
    t.same(addresses(r), ['1.2.3.4']);
    t.ok(Date.now() - t0 < 1000, `answer ${i} came in ${Date.now() - t0} ms, well under the 3 s timeout`);
  }
  t.equal(dead.received.length, 5, 'the dead upstream was asked too (dual dispatch)');
});

t.test('all upstreams dead: SERVFAIL within the configured bound', async (t) => {
  const ip = loopbackBlock();
  const d1 = await scripted(t, ip(2), () => undefined);
  const d2 = await scripted(t, ip(3), () => undefined);
  const { d, udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${d1.port}`, `${ip(3)}:${d2.port}`], timeout: 300 });
  const t0 = Date.now();
  const r = await udpAsk(ip(1), udp, query('gone.test', A));
  const took = Date.now() - t0;
  t.equal(rcode(r), 2, 'SERVFAIL');
  t.ok(took >= 250 && took < 1500, `took ${took} ms for a 300 ms timeout`);
  t.equal(await metric(d, 'sextant_dispatcher_forwarder_failures_total', { zone: '.' }), 1);
  t.equal(await metric(d, 'sextant_dispatcher_worker_failures_total', { reason: 'timeout' }), 2);
});

t.test('a slow upstream loses the race', async (t) => {
  const ip = loopbackBlock();
  const fast = await startDnsmasq(t, ip(2), { addresses: { 'x.test': '1.2.3.4' } });
  const slow = await scripted(t, ip(3), (q) => new Promise((r) => setTimeout(() => r(answer(q, ['6.6.6.6'])), 400)));
  const { udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(3)}:${slow.port}`, `${ip(2)}:${fast}`], cache: { enabled: false } });
  const r = await udpAsk(ip(1), udp, query('a.x.test', A));
  t.same(addresses(r), ['1.2.3.4']);
});

t.test('spoofed replies (other port, other ID, other question) are dropped and counted', async (t) => {
  const ip = loopbackBlock();
  let spoofer: Awaited<ReturnType<typeof scripted>>;
  const up = await scripted(t, ip(2), (q, _tr, peer) => {
    const wrongId = answer(q, ['6.6.6.6']);
    wrongId.writeUInt16BE((q.readUInt16BE(0) + 1) & 0xffff, 0);
    up.udp.send(wrongId, peer.port, peer.address);
    spoofer.udp.send(answer(q, ['6.6.6.7']), peer.port, peer.address);
    const otherQ = answer(query('evil.test', A, { id: q.readUInt16BE(0) }), ['6.6.6.8']);
    up.udp.send(otherQ, peer.port, peer.address);
    return new Promise((r) => setTimeout(() => r(answer(q, ['1.2.3.4'])), 100));
  });
  spoofer = await scripted(t, ip(9), () => undefined);
  const { d, udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up.port}`] });
  const r = await udpAsk(ip(1), udp, query('bank.test', A));
  t.same(addresses(r), ['1.2.3.4'], 'only the genuine answer gets through');
  // The reply from another address never reaches the dispatcher (its upstream socket is connected:
  // the kernel drops it); the one with another ID does, and is dropped and counted.
  t.equal(await metric(d, 'sextant_dispatcher_dropped_replies_total', { reason: 'unexpected_source_or_id' }), 1);
  t.equal(await metric(d, 'sextant_dispatcher_dropped_replies_total', { reason: 'question_mismatch' }), 1);
});

t.test('SERVFAIL from one upstream is not the winner when another answers', async (t) => {
  const ip = loopbackBlock();
  const bad = await scripted(t, ip(2), (q) => answer(q, [], { rcode: 2 }));
  const good = await scripted(t, ip(3), (q) => new Promise((r) => setTimeout(() => r(answer(q, ['1.2.3.4'])), 50)));
  const { udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${bad.port}`, `${ip(3)}:${good.port}`] });
  const r = await udpAsk(ip(1), udp, query('a.test', A));
  t.equal(rcode(r), 0);
  t.same(addresses(r), ['1.2.3.4']);
});

t.test('with 3+ upstreams only 2 are asked, avoiding those that failed recently', async (t) => {
  const ip = loopbackBlock();
  const dead = await scripted(t, ip(2), () => undefined);
  const u2 = await scripted(t, ip(3), (q) => answer(q, ['1.1.1.1']));
  const u3 = await scripted(t, ip(4), (q) => answer(q, ['1.1.1.1']));
  const { d, udp } = await startDispatcher(t, ip(1), {
    upstream_resolvers: [`${ip(2)}:${dead.port}`, `${ip(3)}:${u2.port}`, `${ip(4)}:${u3.port}`],
    timeout: 200,
    cache: { enabled: false },
  });
  // Until the dead one has failed it may be picked; once its timeout is counted it ranks last.
  for (let i = 0; i < 30 && dead.received.length === 0; i++) await udpAsk(ip(1), udp, query(`w${i}.test`, A));
  const askedBefore = dead.received.length;
  t.ok(askedBefore >= 1, 'with no failure history the dead upstream gets picked sometimes');
  await eventually(async () => (await metric(d, 'sextant_dispatcher_worker_failures_total', { reason: 'timeout' })) >= askedBefore, 3000, 20, 'timeouts counted');
  const before = u2.received.length + u3.received.length;
  for (let i = 0; i < 10; i++) await udpAsk(ip(1), udp, query(`q${i}.test`, A));
  t.equal(u2.received.length + u3.received.length - before, 20, 'two upstreams per query');
  t.equal(dead.received.length, askedBefore, 'the upstream that failed recently is not asked');
});

t.test('.mesos goes to the Mesos-DNS resolvers, other names to upstream, forward zones by longest suffix', async (t) => {
  const ip = loopbackBlock();
  const mesos = await scripted(t, ip(2), (q) => answer(q, ['10.3.0.1']));
  const upstream = await scripted(t, ip(3), (q) => answer(q, ['8.8.8.8']));
  const zone = await scripted(t, ip(4), (q) => answer(q, ['9.9.9.9']));
  const { udp } = await startDispatcher(t, ip(1), {
    upstream_resolvers: [`${ip(3)}:${upstream.port}`],
    mesos_resolvers: [`${ip(2)}:${mesos.port}`],
    forward_zones: { 'corp.marathon.mesos': [`${ip(4)}:${zone.port}`], 'example.org': [`${ip(4)}:${zone.port}`] },
  });
  const rows: [string, string][] = [
    ['liquor-store.marathon.mesos', '10.3.0.1'],
    ['MESOS', '10.3.0.1'],
    ['db.corp.marathon.mesos', '9.9.9.9'],
    ['www.example.org', '9.9.9.9'],
    ['example.com', '8.8.8.8'],
    ['mesos.example.com', '8.8.8.8'],
  ];
  for (const [name, want] of rows) t.same(addresses(await udpAsk(ip(1), udp, query(name, A))), [want], name);
});
