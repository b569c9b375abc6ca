/**
 * StaleStore's waiting count, which the client response timer runs from (chain.ts): the oldest
 * query of a question still waiting upstream, reset by a good answer, forgotten when none waits.
 */
import t from 'tap';
import { FakeClock } from '../../../common/clock.js';
import { createRegistry } from '../../../common/metrics.js';
import { AnswerCache } from '../cache.js';
import { staleHandler, type QueryContext } from '../chain.js';
import { dispatcherMetrics } from '../metrics.js';
import { StaleStore } from '../stale.js';
import { parseQuery } from '../wire.js';
import { answer, query } from './helpers.js';

const cfg = { enabled: true, maxAge: 86400, ttl: 30, maxEntries: 100, recheckMs: 30000, clientTimeoutMs: 800 };

t.test('a retry waits from the first query; a good answer restarts the count; none waiting: from now', async (t) => {
  const clock = new FakeClock();
  const s = new StaleStore(clock, cfg);
  const t0 = clock.now();
  t.equal(s.wait('k'), t0, 'the first query waits from now');
  clock.advance(1000);
  t.equal(s.wait('k'), t0, "a retry 1 s later: from the first query's time");
  t.equal(s.wait('other'), t0 + 1000, 'another question: its own count');
  clock.advance(100);
  t.ok(s.answered('k', answer(query('a.mesos', 1), ['10.0.0.1'])), 'a good answer');
  t.equal(s.wait('k'), t0 + 1100, 'the ones still waiting count from that answer');
  clock.advance(50);
  t.notOk(s.answered('k', answer(query('a.mesos', 1), [], { rcode: 2 })), 'SERVFAIL is no good answer');
  t.equal(s.wait('k'), t0 + 1100, 'and restarts nothing');
  for (let i = 0; i < 3; i++) s.back('k');
  t.equal(s.waitingSize, 2, "k's three queries back, one still up");
  s.back('k');
  s.back('other');
  t.equal(s.waitingSize, 0, 'nothing waiting: forgotten');
  s.back('k');
  t.equal(s.waitingSize, 0, 'a stray back() changes nothing');
  clock.advance(5000);
  t.equal(s.wait('k'), clock.now(), 'the next query waits from now');
});

t.test('a query that throws on its way upstream leaves nothing behind: no probe held, nothing counted as waiting', async (t) => {
  const clock = new FakeClock();
  const stale = new StaleStore(clock, cfg);
  const h = staleHandler(stale, dispatcherMetrics(createRegistry()), undefined, clock);
  const ctx = (): QueryContext => {
    const raw = query('a.mesos', 1);
    return { raw, q: parseQuery(raw), transport: 'udp', route: { kind: 'forward', zone: 'mesos', resolvers: [], cacheable: false, serveStale: true }, limit: 512, started: 0 };
  };
  const c = ctx();
  t.ok(stale.answered(StaleStore.key(AnswerCache.key(c.raw, c.q, 'udp')!, false), answer(c.raw, ['10.0.0.1'])), 'an answer kept');
  const boom = () => {
    throw new Error('boom');
  };
  const answers: (Buffer | undefined)[] = [];
  t.throws(() => h.handle(ctx(), boom, (a) => answers.push(a)), /boom/, 'outside the window (the timer path)');
  t.equal(stale.waitingSize, 0, 'not counted as waiting upstream');
  stale.failed();
  t.throws(() => h.handle(ctx(), boom, (a) => answers.push(a)), /boom/, 'in the recheck window (the probe)');
  t.equal(answers.length, 1, 'the client got the kept answer first');
  let probed = 0;
  h.handle(ctx(), () => void probed++, () => undefined);
  t.equal(probed, 1, 'no probe held: the next query of the window goes upstream');
});

t.test("the recheck window's probe: one at a time, another once it has been up longer than the client response timer", async (t) => {
  // A probe stuck on a silent upstream (the killed leader, 5 s timeout) must not keep the new
  // leader's answers out of the store and the window open that long.
  const clock = new FakeClock();
  const stale = new StaleStore(clock, cfg);
  const h = staleHandler(stale, dispatcherMetrics(createRegistry()), undefined, clock);
  const raw = query('a.mesos', 1);
  const q = parseQuery(raw);
  const ctx = (): QueryContext => ({ raw, q, transport: 'udp', route: { kind: 'forward', zone: 'mesos', resolvers: [], cacheable: false, serveStale: true }, limit: 512, started: 0 });
  stale.answered(StaleStore.key(AnswerCache.key(raw, q, 'udp')!, false), answer(raw, ['10.0.0.1']));
  stale.failed();
  const upstream: ((a: Buffer | undefined) => void)[] = [];
  const ask = () => {
    let got: Buffer | undefined;
    h.handle(ctx(), (_c, done) => void upstream.push(done), (a) => (got = a));
    return got;
  };
  t.ok(ask(), 'the kept answer at once');
  t.equal(upstream.length, 1, 'and a probe goes upstream');
  clock.advance(cfg.clientTimeoutMs - 1);
  t.ok(ask());
  t.equal(upstream.length, 1, 'no second probe while the first is up less than the client response timer');
  clock.advance(1);
  t.ok(ask());
  t.equal(upstream.length, 2, 'the first has been up that long: another goes');
  upstream[1]!(answer(raw, ['10.0.0.2']));
  t.notOk(stale.recheckPending(), "the second's good answer ends the window");
  upstream[0]!(undefined);
  t.ok(stale.recheckPending(), "the first one's timeout starts it again (a failure is a failure)");
});

t.test('the recheck window is reported when it opens, when a good answer closes it and when it runs out', async (t) => {
  const clock = new FakeClock();
  const s = new StaleStore(clock, cfg);
  const seen: string[] = [];
  s.onWindow = (open, why) => seen.push(`${open ? 'open' : 'closed'}:${why}`);
  const msg = answer(query('a.mesos', 1), ['10.0.0.1']);
  s.answered('k', msg);
  s.failed();
  s.failed();
  s.answered('k', msg);
  s.answered('k', msg);
  s.failed();
  clock.advance(cfg.recheckMs);
  t.notOk(s.recheckPending());
  t.same(seen, ['open:failure', 'closed:answer', 'open:failure', 'closed:expired'], 'each change once');
});
