import t from 'tap';
import { Fields, ConfigError, FakeClock } from '../common/index.js';

t.test('config reader names the bad field', async (t) => {
  const f = new Fields({ a: { b: 'x' } });
  t.throws(() => f.object('a').number('b', { default: 1 }), { name: 'ConfigError', field: 'a.b' });
  t.equal(new Fields({ PORT: 53 }, '', true).number('port', { default: 1 }), 53, 'case-insensitive keys');
  t.ok(new ConfigError('x', 'y') instanceof Error);
});

t.test('fake clock fires timers in order', async (t) => {
  const c = new FakeClock(0);
  const seen: number[] = [];
  c.setTimeout(() => seen.push(2), 20);
  c.setTimeout(() => seen.push(1), 10);
  c.advance(15);
  t.same(seen, [1]);
  c.advance(10);
  t.same(seen, [1, 2]);
  t.equal(c.now(), 25);
});
