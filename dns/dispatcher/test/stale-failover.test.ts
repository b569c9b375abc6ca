/**
 * Serve-stale through a master failover as a real stub sees it (issue #25): the leader's Mesos-DNS
 * goes silent (killed; the kernel rate-limits its ICMP refusals), a follower's port is closed (a
 * follower runs no Mesos-DNS). The client is Node's resolver (c-ares 1.34), as in the HA fault
 * suite: against a dispatcher that has been answering fast, c-ares gives each try about 1 s and
 * sends its retry from a new port with the same ID, so an answer to the first try after 1 s is
 * lost. A client that asks for a name with an answer kept must get it within the try it is on.
 * Address plan: one loopback /24 per test; .1 dispatcher, .2 the leader, .3 a follower (closed port).
 */
import t from 'tap';
import dns from 'node:dns';
import { freePort, loopbackBlock } from '../../../test/lib/index.js';
import { endpoint } from '../endpoint.js';
import { addresses, answer, metric, query, scripted, startDispatcher, stubAsk } from './helpers.js';

const A = 1;

interface T {
  teardown(fn: () => unknown): void;
}
const NAME = 'hello.marathon.mesos';

/** A leader that answers until `silent` is set, a follower with nothing listening, and a dispatcher asking both. */
async function failover(t: T, cfg: Record<string, unknown> = {}) {
  const ip = loopbackBlock();
  const state = { silent: false };
  const leader = await scripted(t, ip(2), (q) => (state.silent ? undefined : answer(q, ['10.1.2.3'])));
  const follower = `${ip(3)}:${await freePort(ip(3))}`;
  const { d, udp } = await startDispatcher(t, ip(1), { mesos_resolvers: [`${ip(2)}:${leader.port}`, follower], ...cfg });
  return { ip, state, leader, d, udp };
}

t.test("Node's resolver gets the kept answer while the leader's Mesos-DNS is silent (default config)", async (t) => {
  const { ip, state, d, udp } = await failover(t);
  const r = new dns.promises.Resolver({ timeout: 3000, tries: 2 });
  r.setServers([`${ip(1)}:${udp}`]);
  // Fast answers first: c-ares bases its next timeouts on them (the fault suite's probe ran for minutes).
  for (let i = 0; i < 10; i++) t.same(await r.resolve4(NAME), ['10.1.2.3']);
  state.silent = true;
  for (let i = 0; i < 3; i++) t.same(await r.resolve4(NAME).catch((e: Error) => e.message), ['10.1.2.3'], `lookup ${i + 1} with the leader silent: the kept answer`);
  t.ok((await metric(d, 'sextant_dispatcher_stale_answers_total')) >= 3, 'served stale');
});

t.test('a retry counts from the first try: the client timer runs from when the question first went upstream', async (t) => {
  // client_timeout 1.5 s: past the 1 s of the first try, within the 2 s of both. The retry (same ID,
  // new port) arrives 1 s in: it must get the kept answer by 1.5 s, not 1 s + 1.5 s.
  const { ip, state, d, udp } = await failover(t, { serve_stale: { client_timeout: 1500 } });
  t.same(addresses(await stubAsk(ip(1), udp, query(NAME, A))), ['10.1.2.3'], 'fresh while the leader answers');
  state.silent = true;
  t.same(addresses(await stubAsk(ip(1), udp, query(NAME, A, { id: 4242 }))), ['10.1.2.3'], 'the retry got the kept answer');
  t.equal(await metric(d, 'sextant_dispatcher_stale_answers_total', { why: 'slow_upstream' }), 2, 'both tries answered from the store 1.5 s after the first went upstream (the first try to its closed socket)');
});

t.test('after a slow upstream, the next queries for kept names are answered at once (the recheck window)', async (t) => {
  const { ip, state, d, udp, leader } = await failover(t, { serve_stale: { client_timeout: 300 } });
  for (const n of ['a', 'b']) t.same(addresses(await stubAsk(ip(1), udp, query(`${n}.${NAME}`, A))), ['10.1.2.3']);
  state.silent = true;
  t.same(addresses(await stubAsk(ip(1), udp, query(`a.${NAME}`, A))), ['10.1.2.3'], 'the client timer served the kept answer');
  t.equal(await metric(d, 'sextant_dispatcher_stale_answers_total', { why: 'slow_upstream' }), 1);
  const asked = leader.received.length;
  t.same(addresses(await stubAsk(ip(1), udp, query(`b.${NAME}`, A))), ['10.1.2.3'], 'another kept name');
  t.same(addresses(await stubAsk(ip(1), udp, query(`a.${NAME}`, A))), ['10.1.2.3'], 'the same name again');
  t.equal(await metric(d, 'sextant_dispatcher_stale_answers_total', { why: 'recheck' }), 2, 'both from the recheck window, not after another client timer');
  t.ok(leader.received.length - asked <= 1, 'while one query at a time goes on to the upstream');
});

t.test("the elected master's Mesos-DNS is asked first, whatever failures it had as a follower", async (t) => {
  // Three Mesos-DNS resolvers: two are asked first, ranked by recent failures. A new leader had
  // failures while it was a follower (nothing on its port); the old leader and the third master
  // are silent (killed: ICMP rate-limited; cut off). Ranked last, the new leader would be asked
  // only after the others' timeout (5 s), past the client's patience.
  const ip = loopbackBlock();
  const port = await freePort(ip(4));
  let leading = false;
  const next = await scripted(t, ip(4), (q) => answer(q, leading ? ['10.9.9.9'] : [], leading ? {} : { rcode: 5 }), port);
  const silent = [await scripted(t, ip(2), () => undefined, port), await scripted(t, ip(3), () => undefined, port)];
  const { d, udp } = await startDispatcher(t, ip(1), { mesos_resolvers: [`${ip(4)}:${port}`] });
  for (let i = 0; i < 3; i++) await stubAsk(ip(1), udp, query(`f${i}.marathon.mesos`, A)); // REFUSED: 3 failures for .4
  d.setMesosResolvers([2, 3, 4].map((k) => endpoint(ip(k), port)));
  leading = true;
  d.setMesosLeader(ip(4));
  const route = d.routes.route('x.mesos');
  t.same(route.kind === 'forward' && route.resolvers.map((e) => e.host), [ip(4), ip(2), ip(3)], "the followed leader's resolver first");
  for (let i = 0; i < 3; i++) t.same(addresses(await stubAsk(ip(1), udp, query(`new${i}.marathon.mesos`, A))), ['10.9.9.9'], `a name never seen (${i + 1}): the leader's answer`);
  t.equal(silent[0]!.received.length + silent[1]!.received.length, 3, 'one silent master asked along with the leader each time');
});
