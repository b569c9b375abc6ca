/** DeadlineQueue: one timer, exact expiry by the clock, settled entries never expire. */
import t from 'tap';
import { FakeClock } from '../../../common/clock.js';
import { DeadlineQueue } from '../deadlines.js';

const cases: { name: string; adds: [id: string, at: number][]; settle: string[]; advance: number; expired: string[] }[] = [
  { name: 'nothing due yet', adds: [['a', 100]], settle: [], advance: 99, expired: [] },
  { name: 'due exactly at its deadline', adds: [['a', 100]], settle: [], advance: 100, expired: ['a'] },
  { name: 'answered in time: never expires', adds: [['a', 100], ['b', 110]], settle: ['a'], advance: 200, expired: ['b'] },
  { name: 'out of order adds expire in deadline order', adds: [['late', 300], ['early', 50], ['mid', 200]], settle: [], advance: 250, expired: ['early', 'mid'] },
  { name: 'all settled: nothing', adds: [['a', 10], ['b', 20]], settle: ['a', 'b'], advance: 1000, expired: [] },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const clock = new FakeClock();
    const q = new DeadlineQueue(clock);
    const expired: string[] = [];
    const entries = new Map(
      c.adds.map(([id, at]) => {
        const d = { at: clock.now() + at, settled: false, expire: () => expired.push(id) };
        q.add(d);
        return [id, d] as const;
      }),
    );
    for (const id of c.settle) {
      entries.get(id)!.settled = true;
      q.settled();
    }
    clock.advance(c.advance);
    t.same(expired, c.expired);
  });
}

t.test('many entries, most answered: the queue stays short and one timer serves all', async (t) => {
  const clock = new FakeClock();
  let timers = 0;
  const counting = Object.assign(Object.create(clock) as FakeClock, {
    setTimeout: (fn: () => void, ms: number) => {
      timers++;
      return clock.setTimeout(fn, ms);
    },
  });
  const q = new DeadlineQueue(counting);
  const expired: number[] = [];
  for (let i = 0; i < 10_000; i++) {
    const d = { at: clock.now() + 5000, settled: false, expire: () => expired.push(i) };
    q.add(d);
    if (i % 100 !== 0) {
      d.settled = true; // answered at once
      q.settled();
    }
    clock.advance(0);
  }
  t.ok(q.size <= 1100, `queue holds ${q.size}: answered ones behind an unanswered head are swept`);
  t.equal(timers, 1, 'one timer armed for the lot');
  clock.advance(5000);
  t.equal(expired.length, 100, 'every unanswered one expired');
  q.clear();
});
