/**
 * Registration retries (agent/registration.ts), on an injected clock: following an elected leader
 * (a failover: the new leader is still loading) an agent retries every retryMs without growing;
 * with a list of masters it backs off, doubling up to 5 s.
 */
import t from 'tap';
import { FakeClock } from '../../common/clock.js';
import { createLogger } from '../../common/log.js';
import { Registration } from '../registration.js';

async function retryGaps(leader: boolean): Promise<number[]> {
  const clock = new FakeClock();
  const at: number[] = [];
  const reg = new Registration({
    masters: ['127.0.0.1:1'],
    ...(leader ? { leader: () => '127.0.0.1:1' } : {}),
    clock,
    log: createLogger('registration-retry'),
    request: () => ({ hostname: 'a', ip: '127.0.0.1', port: 1, resources: { cpus: 1, mem: 1, disk: 1, ports: [] }, attributes: {}, tasks: [] }),
    onRegistered: () => undefined,
    call: async () => {
      at.push(clock.now());
      throw new Error('connect ECONNREFUSED (the master is starting)');
    },
  });
  reg.start();
  for (let ms = 0; ms <= 8000; ms += 50) {
    clock.advance(50);
    await new Promise((r) => setImmediate(r));
  }
  reg.stop();
  // The first failure is handled at the end of the first 50 ms step: gaps from the second retry on.
  return at.slice(2).map((x, i) => x - at[i + 1]!);
}

t.test('following a leader, a failed registration is retried every 250 ms, not backing off', async (t) => {
  const gaps = await retryGaps(true);
  t.ok(gaps.length >= 20, `retried ${gaps.length} times in 8 s`);
  t.ok(gaps.every((g) => g === 250), `every gap is 250 ms (${gaps.slice(0, 6).join(', ')}, ...)`);
});

t.test('with a list of masters, retries back off: 500, 1000, 2000, 4000 ms after the first', async (t) => {
  const gaps = await retryGaps(false);
  t.same(gaps.slice(0, 4), [500, 1000, 2000, 4000]);
});
