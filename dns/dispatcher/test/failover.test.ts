/**
 * Any live upstream answers (issue #24): a refused or unreachable upstream never becomes the
 * client's answer while another can still answer within the timeout, from the first query after
 * start, over UDP and TCP. Dead upstreams are closed ports (ICMP port unreachable / RST), the live
 * one a real dnsmasq.
 * Address plan: one loopback /24 per test; .1 dispatcher, .2 dnsmasq, .3-.5 closed ports.
 */
import t from 'tap';
import { freePort, loopbackBlock } from '../../../test/lib/index.js';
import { addresses, answer, metric, query, rcode, scripted, startDispatcher, startDnsmasq, tcpAsk, udpAsk } from './helpers.js';

const A = 1;
const TIMEOUT = 3000;

async function ask(transport: 'udp' | 'tcp', host: string, ports: { udp: number; tcp: number }, msg: Buffer): Promise<{ r: Buffer; ms: number }> {
  const t0 = Date.now();
  const r = transport === 'udp' ? await udpAsk(host, ports.udp, msg, TIMEOUT + 2000) : (await tcpAsk(host, ports.tcp, [msg], 1, TIMEOUT + 2000))[0]!;
  return { r, ms: Date.now() - t0 };
}

for (const transport of ['udp', 'tcp'] as const) {
  t.test(`${transport}: one closed port and one dnsmasq, first query right after start`, async (t) => {
    const ip = loopbackBlock();
    const live = `${ip(2)}:${await startDnsmasq(t, ip(2), { addresses: { 'x.test': '1.2.3.4' } })}`;
    const dead = `${ip(3)}:${await freePort(ip(3))}`;
    for (const order of [[dead, live], [live, dead]]) {
      const { d, udp, tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: order, timeout: TIMEOUT, cache: { enabled: false } });
      const { r, ms } = await ask(transport, ip(1), { udp, tcp }, query('first.x.test', A));
      t.equal(rcode(r), 0, `${order[0] === dead ? 'dead first' : 'live first'}: NOERROR`);
      t.same(addresses(r), ['1.2.3.4']);
      t.ok(ms < 1000, `answered in ${ms} ms`);
      t.equal(await metric(d, 'sextant_dispatcher_forwarder_failures_total'), 0, 'no query failed');
      await d.stop();
    }
  });

  t.test(`${transport}: three closed ports and one dnsmasq: early failures bring in the others`, async (t) => {
    const ip = loopbackBlock();
    const live = `${ip(2)}:${await startDnsmasq(t, ip(2), { addresses: { 'x.test': '1.2.3.4' } })}`;
    const dead = [3, 4, 5].map((i) => ip(i)).map(async (h) => `${h}:${await freePort(h)}`);
    const ups = [...(await Promise.all(dead)), live];
    // Only 2 of 4 are asked first; with the dead ones ranked equal, the live one is often not among
    // them: every round is a fresh dispatcher, so a first query with no failure history.
    for (let round = 0; round < 6; round++) {
      const { d, udp, tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: ups, timeout: TIMEOUT, cache: { enabled: false } });
      const { r, ms } = await ask(transport, ip(1), { udp, tcp }, query(`r${round}.x.test`, A));
      t.equal(rcode(r), 0, `round ${round}: NOERROR`);
      t.ok(ms < 1000, `round ${round}: answered in ${ms} ms, not at the ${TIMEOUT} ms timeout`);
      await d.stop();
    }
  });

  t.test(`${transport}: REFUSED from one upstream is not the answer while another answers`, async (t) => {
    const ip = loopbackBlock();
    const refusing = await scripted(t, ip(3), (q) => answer(q, [], { rcode: 5 }));
    const slow = await scripted(t, ip(2), (q) => new Promise((r) => setTimeout(() => r(answer(q, ['1.2.3.4'])), 150)));
    const { udp, tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(3)}:${refusing.port}`, `${ip(2)}:${slow.port}`], timeout: TIMEOUT, cache: { enabled: false } });
    const { r } = await ask(transport, ip(1), { udp, tcp }, query('a.test', A));
    t.equal(rcode(r), 0);
    t.same(addresses(r), ['1.2.3.4']);
  });

  t.test(`${transport}: every upstream a closed port: SERVFAIL at once, not at the timeout`, async (t) => {
    const ip = loopbackBlock();
    const ups = [`${ip(3)}:${await freePort(ip(3))}`, `${ip(4)}:${await freePort(ip(4))}`];
    const { udp, tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: ups, timeout: TIMEOUT });
    const { r, ms } = await ask(transport, ip(1), { udp, tcp }, query('gone.test', A));
    t.equal(rcode(r), 2, 'SERVFAIL');
    t.ok(ms < 1000, `in ${ms} ms (ICMP port unreachable / connection refused), timeout ${TIMEOUT} ms`);
  });
}
