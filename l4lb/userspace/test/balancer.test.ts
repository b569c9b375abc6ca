/** The userspace balancer: picks, skips, drains, and open counts that survive backend updates. */
import t from 'tap';
import { Balancer } from '../balancer.js';
import { ConnectSweep } from '../sweep.js';

const be = (n: number, weight = 1) => ({ ip: `10.0.0.${n}`, port: 80, weight });

t.test('hash: same client same backend; both backends used; skip falls back', async (t) => {
  const b = new Balancer('hash');
  b.set([be(1), be(2)]);
  const seen = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const id = b.pick(`192.168.0.${i}`)!.id;
    seen.set(id, (seen.get(id) ?? 0) + 1);
    t.equal(b.pick(`192.168.0.${i}`)!.id, id);
  }
  t.ok((seen.get('10.0.0.1:80') ?? 0) > 40 && (seen.get('10.0.0.2:80') ?? 0) > 40, JSON.stringify([...seen]));
  const first = b.pick('c')!.id;
  t.not(b.pick('c', new Set([first]))!.id, first);
  t.equal(b.pick('c', new Set(['10.0.0.1:80', '10.0.0.2:80'])), undefined);
});

t.test('leastconn, weight 0 drains, counts survive updates', async (t) => {
  const b = new Balancer('leastconn');
  t.notOk(b.wantsClient);
  b.set([be(1), be(2)]);
  const s1 = b.pick('')!;
  b.opened(s1);
  const s2 = b.pick('')!;
  t.not(s2.id, s1.id, 'least connections');
  b.opened(s2);
  b.set([be(1), be(2, 0)]);
  t.equal(b.pick('')!.id, '10.0.0.1:80', 'weight 0 gets nothing new');
  t.same([...b.open], [['10.0.0.1:80', 1], ['10.0.0.2:80', 1]], 'drained backend still counted');
  b.set([be(1)]);
  b.closed(s2);
  b.closed(s1);
  t.same([...b.open], []);
  b.set([]);
  t.equal(b.pick(''), undefined);
});

t.test('connect sweep expires only what is still pending', async (t) => {
  const expired: string[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const s = new ConnectSweep<string>(40, (x) => {
    expired.push(x);
    if (x === 'c') done();
  });
  // The sweep's interval is unref'd (it never holds a daemon up): keep this test's loop alive.
  const guard = setTimeout(() => undefined, 5000);
  t.teardown(() => (s.stop(), clearTimeout(guard)));
  s.add('a');
  s.add('b');
  s.add('c');
  s.delete('b');
  const t0 = Date.now();
  await all;
  t.same(expired, ['a', 'c']);
  t.ok(Date.now() - t0 >= 40, 'not before the timeout');
  t.equal(s.size, 0);
});
