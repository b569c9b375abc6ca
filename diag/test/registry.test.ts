/** The health registry: a check that throws, rejects, hangs or answers garbage is unhealthy with why. */
import t from 'tap';
import type { HealthCheck } from '../../contracts/index.js';
import { HealthRegistry } from '../registry.js';

const unit = (id: string, check: HealthCheck['check']): HealthCheck => ({ id, name: id.toUpperCase(), help: `help of ${id}`, check });

t.test('each way a check can go wrong is an unhealthy unit saying why', async (t) => {
  const r = new HealthRegistry();
  let aborted = false;
  r.add(unit('ok', async () => ({ healthy: true, output: 'fine' })));
  r.add(unit('bad', async () => ({ healthy: false, output: 'vtep1024 is missing' })));
  r.add(unit('throws', () => {
    throw new Error('boom');
  }));
  r.add(unit('rejects', async () => Promise.reject(new Error('no such table'))));
  r.add(unit('hangs', (signal) => new Promise(() => signal.addEventListener('abort', () => (aborted = true)))));
  r.add(unit('garbage', async () => ({ healthy: 'yes' }) as never));
  const units = await r.run(200);
  const by = Object.fromEntries(units.map((u) => [u.id, u]));
  t.same(units.map((u) => u.id), ['bad', 'garbage', 'hangs', 'ok', 'rejects', 'throws'], 'sorted by id');
  t.same(by.ok, { id: 'ok', name: 'OK', help: 'help of ok', health: 1, output: 'fine' });
  t.same([by.bad!.health, by.bad!.output], [0, 'vtep1024 is missing']);
  t.same([by.throws!.health, by.throws!.output], [0, 'check failed: boom']);
  t.same([by.rejects!.health, by.rejects!.output], [0, 'check failed: no such table']);
  t.same([by.hangs!.health, by.hangs!.output], [0, 'check did not answer within 200 ms']);
  t.ok(aborted, 'the hung check was told to stop');
  t.match(by.garbage, { health: 0, output: /check failed: check returned .*not \{healthy, output\}/ });
});

t.test('an id registers once; removing frees it', async (t) => {
  const r = new HealthRegistry();
  const remove = r.add(unit('a', async () => ({ healthy: true, output: '' })));
  t.throws(() => r.add(unit('a', async () => ({ healthy: true, output: '' }))), /registered twice/);
  remove();
  t.same(r.ids(), []);
  r.add(unit('a', async () => ({ healthy: true, output: '' })));
  t.same(r.ids(), ['a']);
});
