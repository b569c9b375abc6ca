/** Pure rules: which grants cover a permission, password hashes, the failed-login throttle (injected clock). */
import t from 'tap';
import { FakeClock } from '../../../common/index.js';
import { actionAllows, coveringResources, isRid, isUid } from '../ids.js';
import { hashPassword, verifyPassword } from '../password.js';
import { LoginThrottle } from '../throttle.js';

const FAST = { N: 1024, r: 8, p: 1 };

t.test('resources covering a resource, nearest first', async (t) => {
  const rows: [string, string[]][] = [
    ['dcos:adminrouter:ops:networks', ['dcos:adminrouter:ops:networks', 'dcos:adminrouter:ops', 'dcos:adminrouter', 'dcos']],
    ['dcos:superuser', ['dcos:superuser', 'dcos']],
    [
      'dcos:service:marathon:marathon:services:/prod/web/api',
      [
        'dcos:service:marathon:marathon:services:/prod/web/api',
        'dcos:service:marathon:marathon:services:/prod/web',
        'dcos:service:marathon:marathon:services:/prod',
        'dcos:service:marathon:marathon:services',
        'dcos:service:marathon:marathon',
        'dcos:service:marathon',
        'dcos:service',
        'dcos',
      ],
    ],
  ];
  for (const [rid, want] of rows) t.same(coveringResources(rid), want, rid);
});

t.test('full implies every action; others only themselves', async (t) => {
  t.ok(actionAllows(['full'], 'delete'));
  t.ok(actionAllows(['read', 'update'], 'update'));
  t.notOk(actionAllows(['read'], 'update'));
  t.notOk(actionAllows([], 'read'));
});

t.test('uid and resource id syntax', async (t) => {
  for (const u of ['alice', 'svc-1', 'a.b@corp', 'X9_']) t.ok(isUid(u), u);
  for (const u of ['', '-a', 'a b', 'a/b', 'a:b', 'x'.repeat(97)]) t.notOk(isUid(u), JSON.stringify(u));
  for (const r of ['dcos:superuser', 'dcos:adminrouter:acs', 'dcos:service:marathon:marathon:services:/prod/web']) t.ok(isRid(r), r);
  for (const r of ['', 'dcos:', ':dcos', 'dcos::x', 'dcos:a b', 'dcos:services:/a//b', 'dcos:services:/a/', 'x'.repeat(600)]) t.notOk(isRid(r), JSON.stringify(r));
});

t.test('scrypt hashes: salted, parameters kept, wrong password refused', async (t) => {
  const a = await hashPassword('correct horse', FAST);
  const b = await hashPassword('correct horse', FAST);
  t.match(a, { alg: 'scrypt', N: 1024, r: 8, p: 1 });
  t.not(a.salt, b.salt, 'a salt per hash');
  t.not(a.hash, b.hash);
  t.ok(await verifyPassword('correct horse', a));
  t.notOk(await verifyPassword('correct horsf', a));
  t.notOk(await verifyPassword('', a));
  t.ok(await verifyPassword('correct horse', { ...b }), 'verifies with the stored parameters');
});

t.test('failed logins are slowed down exponentially per key', async (t) => {
  const clock = new FakeClock();
  const th = new LoginThrottle({ clock, baseMs: 100, maxMs: 1000, maxWaitMs: 5000 });
  t.same(await th.admit('1.2.3.4|bob'), { ok: true }, 'first attempt at once');
  th.failed('1.2.3.4|bob');
  let done = false;
  const p = th.admit('1.2.3.4|bob').then((r) => ((done = true), r));
  await Promise.resolve();
  t.notOk(done, 'second attempt waits');
  clock.advance(99);
  await Promise.resolve();
  t.notOk(done, 'still waiting at 99 ms');
  clock.advance(1);
  t.same(await p, { ok: true }, 'admitted after 100 ms');
  th.failed('1.2.3.4|bob');
  // Two attempts in parallel queue one behind the other: 200 ms, then another 200 ms.
  const order: number[] = [];
  const q1 = th.admit('1.2.3.4|bob').then(() => order.push(clock.now()));
  const q2 = th.admit('1.2.3.4|bob').then(() => order.push(clock.now()));
  const t0 = clock.now();
  clock.advance(200);
  await q1;
  clock.advance(200);
  await q2;
  t.same(order.map((x) => x - t0), [200, 400], 'parallel attempts queue');
  t.same(await th.admit('1.2.3.4|alice'), { ok: true }, 'another uid is not slowed');
  t.same(await th.admit('5.6.7.8|bob'), { ok: true }, 'another address is not slowed');
  for (let i = 0; i < 10; i++) th.failed('9.9.9.9|x');
  const capped = th.admit('9.9.9.9|x');
  clock.advance(1000);
  t.same(await capped, { ok: true }, 'the wait is capped at maxMs');
  // Each queued attempt takes another maxMs: turns 1 s, 2 s, ... 5 s away, then one beyond maxWaitMs.
  for (let i = 0; i < 5; i++) void th.admit('9.9.9.9|x');
  const far = await th.admit('9.9.9.9|x');
  t.equal(far.ok, false, 'a turn further than maxWaitMs is refused at once');
  t.ok(!far.ok && far.retryAfterMs > 5000, 'and says when to retry');
  th.succeeded('1.2.3.4|bob');
  t.same(await th.admit('1.2.3.4|bob'), { ok: true }, 'a success clears the key');
});

t.test('the throttle map is bounded and forgets idle keys', async (t) => {
  const clock = new FakeClock();
  const th = new LoginThrottle({ clock, maxEntries: 3, forgetAfterMs: 1000 });
  for (const k of ['a', 'b', 'c', 'd']) th.failed(k);
  t.equal(th.size, 3);
  t.same(await th.admit('a'), { ok: true }, 'the oldest went first');
  clock.advance(1001);
  t.same(await th.admit('d'), { ok: true }, 'forgotten after the idle time');
});
