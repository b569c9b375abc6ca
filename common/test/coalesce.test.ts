/** The coalescer on a FakeClock: leading run at once, one trailing run per burst, never two at a time. */
import t from 'tap';
import { Coalescer } from '../coalesce.js';
import { FakeClock } from '../clock.js';

const turn = () => new Promise((r) => setImmediate(r));

function setup(intervalMs = 50) {
  const clock = new FakeClock(0);
  const starts: number[] = [];
  let release: (() => void) | undefined;
  let hold = false;
  let concurrent = 0;
  let maxConcurrent = 0;
  const c = new Coalescer(
    async () => {
      starts.push(clock.now());
      maxConcurrent = Math.max(maxConcurrent, ++concurrent);
      if (hold) await new Promise<void>((r) => (release = r));
      concurrent--;
    },
    { intervalMs, clock },
  );
  return { clock, c, starts, holdNext: () => (hold = true), release: () => ((hold = false), release?.()), max: () => maxConcurrent };
}

t.test('a trigger after a quiet interval runs at once; a burst makes one trailing run', async (t) => {
  const { clock, c, starts } = setup();
  c.trigger();
  await Promise.resolve();
  t.same(starts, [0], 'leading edge, without waiting for the clock');
  for (let i = 0; i < 100; i++) c.trigger();
  clock.advance(49);
  await turn();
  t.same(starts, [0], 'nothing more within the interval');
  clock.advance(1);
  await c.idle();
  t.same(starts, [0, 50], 'one trailing run for 100 triggers');
  clock.advance(1000);
  c.trigger();
  await c.idle();
  t.same(starts, [0, 50, 1050], 'quiet again: at once');
});

t.test('triggers during a run make one run after it, never two at a time', async (t) => {
  const { clock, c, starts, holdNext, release, max } = setup(0);
  holdNext();
  c.trigger();
  await turn();
  for (let i = 0; i < 5; i++) c.trigger();
  clock.advance(10);
  await turn();
  t.same(starts, [0], 'the run under way is not overlapped');
  release();
  await c.idle();
  t.same(starts, [0, 10], 'one more run for the triggers it missed');
  t.equal(max(), 1);
});

t.test('a failing job does not stop later runs; stop drops a pending run', async (t) => {
  const clock = new FakeClock(0);
  let runs = 0;
  const c = new Coalescer(async () => {
    runs++;
    throw new Error('boom');
  }, { intervalMs: 50, clock });
  c.trigger();
  await c.idle();
  clock.advance(50);
  c.trigger();
  await c.idle();
  t.equal(runs, 2);
  c.trigger();
  await c.stop();
  clock.advance(100);
  c.trigger();
  await turn();
  t.equal(runs, 2, 'nothing runs after stop');
});
