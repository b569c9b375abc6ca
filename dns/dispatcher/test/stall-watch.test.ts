/** StallWatch: a blocked event loop is reported with its length once the loop runs again. */
import t from 'tap';
import { StallWatch } from '../stall-watch.js';

t.test('a loop blocked 600 ms is reported (watch every 50 ms, report from 300 ms)', async (t) => {
  const stalls: number[] = [];
  let reported!: () => void;
  const seen = new Promise<void>((r) => (reported = r));
  const w = new StallWatch((ms) => {
    stalls.push(ms);
    reported();
  }, 50, 300);
  w.start();
  t.teardown(() => w.stop());
  await new Promise((r) => setTimeout(r, 60)); // one tick of the watch first
  const end = performance.now() + 600;
  while (performance.now() < end); // the stall
  const alive = setTimeout(() => reported(), 5000); // the watch's timer is unref'd: keep the process up (bounded)
  await seen;
  clearTimeout(alive);
  t.ok(stalls[0]! >= 300, `reported ${stalls[0]} ms`);
});
