/**
 * Serve-stale for `.mesos` (RFC 8767, issue #24): with every Mesos-DNS upstream down, names the
 * dispatcher had answers for are answered from them (TTL 30, up to max_age old), names it never
 * saw get SERVFAIL, and the masters coming back are noticed. A real Mesos-DNS on loopback as the
 * upstream (stopped = a closed port); ages on an injected clock.
 * Address plan: one loopback /24 per test; .1 dispatcher, .2 Mesos-DNS, .9 / .10 the leaders.
 */
import t from 'tap';
import { FakeClock } from '../../../common/clock.js';
import { createRegistry } from '../../../common/metrics.js';
import { freePort, loopbackBlock } from '../../../test/lib/index.js';
import { parseConfig } from '../../mesos/config.js';
import { MesosDns } from '../../mesos/mesosdns.js';
import { walkRecords } from '../cache.js';
import { addresses, answer, metric, query, rcode, scripted, startDispatcher, tcpAsk, udpAsk } from './helpers.js';

const A = 1;

interface T {
  teardown(fn: () => unknown): void;
}

/** A Mesos-DNS on ip:port whose leader is `leader`. */
async function mesosDns(t: T, ip: string, port: number, leader: string): Promise<MesosDns> {
  const { config } = parseConfig({ Masters: [`${leader}:5050`], Listener: ip, Port: port, HttpOn: false, ExternalOn: false });
  const dns = new MesosDns({ config, registry: createRegistry(), lookup: async () => [] });
  await dns.start();
  t.teardown(() => dns.stop());
  if (!(await dns.setState({ leader: `master@${leader}:5050`, slaves: [], frameworks: [] }, [`${leader}:5050`]))) throw new Error('state rejected');
  return dns;
}

/** TTLs of the answer records. */
function ttls(m: Buffer): number[] {
  return walkRecords(m)!.ttlOffsets.slice(0, m.readUInt16BE(6)).map((off) => m.readUInt32BE(off));
}

t.test('masters down: known names answered stale, unknown ones SERVFAIL; back up: fresh again', async (t) => {
  const ip = loopbackBlock();
  const port = await freePort(ip(2));
  const first = await mesosDns(t, ip(2), port, ip(9));
  const clock = new FakeClock();
  const { d, udp, tcp } = await startDispatcher(t, ip(1), { mesos_resolvers: [`${ip(2)}:${port}`], timeout: 2000 }, { clock });

  const fresh = await udpAsk(ip(1), udp, query('leader.mesos', A));
  t.same(addresses(fresh), [ip(9)], 'resolved while the master is up');
  t.same(ttls(fresh), [60], 'with Mesos-DNS TTL');
  t.equal(rcode(await udpAsk(ip(1), udp, query('gone.mesos', A))), 3, 'NXDOMAIN while up');
  t.same(addresses((await tcpAsk(ip(1), tcp, [query('master.mesos', A)]))[0]!), [ip(9)], 'master.mesos over TCP');

  await first.stop();
  clock.advance(3_600_000);
  const t0 = Date.now();
  const stale = await udpAsk(ip(1), udp, query('LEADER.mesos', A, { id: 99 }));
  t.same(addresses(stale), [ip(9)], 'master down: the last answer, served stale');
  t.same(ttls(stale), [30], 'with the stale TTL');
  t.equal(stale.readUInt16BE(0), 99, 'the client ID');
  t.equal(stale.toString('latin1', 13, 19), 'LEADER', "the client's spelling of the question");
  t.ok(Date.now() - t0 < 1000, 'at once: the closed port is refused (ICMP), no timeout waited');
  t.equal(await metric(d, 'sextant_dispatcher_stale_answers_total', { why: 'upstream_failed' }), 1);

  t.same(addresses(await udpAsk(ip(1), udp, query('leader.mesos', A))), [ip(9)], 'again, in the recheck window');
  t.equal(await metric(d, 'sextant_dispatcher_stale_answers_total', { why: 'recheck' }), 1);
  t.equal(rcode(await udpAsk(ip(1), udp, query('gone.mesos', A))), 3, 'a kept NXDOMAIN stays NXDOMAIN');
  const tcpStale = (await tcpAsk(ip(1), tcp, [query('leader.mesos', A)]))[0]!;
  t.same(addresses(tcpStale), [ip(9)], 'TCP clients get the answer kept from UDP');
  t.equal(rcode(await udpAsk(ip(1), udp, query('never-seen.mesos', A))), 2, 'a name never seen: SERVFAIL');
  t.equal(rcode((await tcpAsk(ip(1), tcp, [query('never-seen.mesos', A)]))[0]!), 2, 'over TCP too');

  clock.advance(86_400_000);
  t.equal(rcode(await udpAsk(ip(1), udp, query('leader.mesos', A))), 2, 'older than max_age (1 day): SERVFAIL');

  // Back up (a new leader): within the recheck window the first answer may still be stale, the
  // query that went upstream meanwhile refreshes it.
  await mesosDns(t, ip(2), port, ip(10));
  t.same(addresses(await udpAsk(ip(1), udp, query('master.mesos', A))), [ip(10)], 'a name past max_age is asked upstream: fresh');
  t.same(addresses(await udpAsk(ip(1), udp, query('leader.mesos', A))), [ip(10)], 'masters back: fresh answers');
  t.same(ttls(await udpAsk(ip(1), udp, query('leader.mesos', A))), [60]);
});

t.test('the stale TTL and max age are configurable; serve_stale off = SERVFAIL', async (t) => {
  for (const row of [
    { name: 'ttl 5, max_age 60', cfg: { ttl: 5, max_age: 60 }, after: 59_000, want: { rcode: 0, ttl: 5 } },
    { name: 'max_age 60, asked after 61 s', cfg: { max_age: 60 }, after: 61_000, want: { rcode: 2 } },
    { name: 'disabled', cfg: { enabled: false }, after: 0, want: { rcode: 2 } },
  ]) {
    await t.test(row.name, async (t) => {
      const ip = loopbackBlock();
      const port = await freePort(ip(2));
      const up = await mesosDns(t, ip(2), port, ip(9));
      const clock = new FakeClock();
      const { udp } = await startDispatcher(t, ip(1), { mesos_resolvers: [`${ip(2)}:${port}`], serve_stale: row.cfg }, { clock });
      t.equal(rcode(await udpAsk(ip(1), udp, query('leader.mesos', A))), 0);
      await up.stop();
      clock.advance(row.after);
      const r = await udpAsk(ip(1), udp, query('leader.mesos', A));
      t.equal(rcode(r), row.want.rcode);
      if (row.want.ttl !== undefined) t.same(ttls(r), [row.want.ttl]);
    });
  }
});

t.test('only .mesos is served stale', async (t) => {
  const ip = loopbackBlock();
  const dead = `${ip(2)}:${await freePort(ip(2))}`;
  const { d, udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [dead], mesos_resolvers: [dead] });
  t.equal(rcode(await udpAsk(ip(1), udp, query('example.com', A))), 2);
  t.equal(await metric(d, 'sextant_dispatcher_stale_answers_total'), 0);
});

t.test('a silent Mesos-DNS: the kept answer goes out after client_timeout, not after the upstream timeout', async (t) => {
  // A master just killed whose ICMP refusals the kernel rate-limits is silent: without the client
  // response timer the client waited the dispatcher's whole timeout (5 s) and gave up first (issue 25).
  const ip = loopbackBlock();
  let silent = false;
  const up = await scripted(t, ip(2), (q) => (silent ? undefined : answer(q, ['10.1.2.3'])));
  const { d, udp } = await startDispatcher(t, ip(1), { mesos_resolvers: [`${ip(2)}:${up.port}`], timeout: 20_000, serve_stale: { client_timeout: 200 } });
  t.same(addresses(await udpAsk(ip(1), udp, query('hello.marathon.mesos', A))), ['10.1.2.3'], 'fresh while the upstream answers');
  silent = true;
  // udpAsk gives up after 3 s, far below the 20 s upstream timeout: only the timer can answer.
  const r = await udpAsk(ip(1), udp, query('hello.marathon.mesos', A, { id: 7 }));
  t.same(addresses(r), ['10.1.2.3'], 'the kept answer, while the upstream is still asked');
  t.same(ttls(r), [30], 'with the stale TTL');
  t.equal(r.readUInt16BE(0), 7, 'the client ID');
  t.equal(await metric(d, 'sextant_dispatcher_stale_answers_total', { why: 'slow_upstream' }), 1);
  t.equal(rcode(await udpAsk(ip(1), udp, query('never-seen.mesos', A), 3000).catch(() => Buffer.from([0, 0, 0, 0xff]))), 0xf, 'a name with nothing kept waits for the upstream (no answer within 3 s here)');
});
