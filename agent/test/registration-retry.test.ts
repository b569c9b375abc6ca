/**
 * Registration retries (agent/registration.ts), on an injected clock: following an elected leader
 * (a failover: the new leader is still loading) an agent retries soon, 50 ms doubling up to 400 ms,
 * each delay jittered to 0.5-1.5 times (injected randomness); with a list of masters it backs off,
 * doubling up to 5 s.
 */
import t from 'tap';
import { FakeClock } from '../../common/clock.js';
import { createLogger } from '../../common/log.js';
import { Registration } from '../registration.js';

async function retryGaps(leader: boolean, random?: () => number): Promise<number[]> {
  const clock = new FakeClock();
  const at: number[] = [];
  const reg = new Registration({
    masters: ['127.0.0.1:1'],
    ...(leader ? { leader: () => '127.0.0.1:1' } : {}),
    clock,
    ...(random ? { random } : {}),
    log: createLogger('registration-retry'),
    request: () => ({ hostname: 'a', ip: '127.0.0.1', port: 1, resources: { cpus: 1, mem: 1, disk: 1, ports: [] }, attributes: {}, tasks: [] }),
    onRegistered: () => undefined,
    call: async () => {
      at.push(clock.now());
      throw new Error('connect ECONNREFUSED (the master is starting)');
    },
  });
  reg.start();
  for (let ms = 0; ms <= 8000; ms += 5) {
    clock.advance(5);
    await new Promise((r) => setImmediate(r));
  }
  reg.stop();
  // The first failure is handled at the end of the first clock step: gaps from the second retry on.
  return at.slice(2).map((x, i) => x - at[i + 1]!);
}

t.test('following a leader, a failed registration is retried after 50 ms, doubling up to 400 ms (no jitter: factor 1)', async (t) => {
  const gaps = await retryGaps(true, () => 0.5);
  t.same(gaps.slice(0, 5), [100, 200, 400, 400, 400], 'after the first retry (50 ms): 100, 200, 400, 400, ...');
  t.ok(gaps.length >= 18, `retried ${gaps.length} times in 8 s`);
});

t.test('following a leader, each retry delay is jittered within 0.5-1.5 times its base', async (t) => {
  const low = await retryGaps(true, () => 0);
  t.same(low.slice(0, 4), [50, 100, 200, 200], 'the lowest jitter halves each delay');
  const high = await retryGaps(true, () => 0.999);
  t.same(high.slice(0, 4), [150, 300, 600, 600], 'the highest makes it 1.5 times');
  let i = 0;
  const mixed = await retryGaps(true, () => [0.1, 0.9, 0.4][i++ % 3]!);
  t.ok(new Set(mixed.slice(3, 9)).size > 1, `delays at the cap differ between retries (${mixed.slice(3, 9).join(', ')})`);
  t.ok(mixed.every((g) => g >= 25 && g < 600), 'every delay within 0.5-1.5 times 50..400 ms');
});

t.test('with a list of masters, retries back off: 500, 1000, 2000, 4000 ms after the first', async (t) => {
  const gaps = await retryGaps(false);
  t.same(gaps.slice(0, 4), [500, 1000, 2000, 4000]);
});
