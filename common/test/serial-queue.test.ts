import t from 'tap';
import { SerialQueue } from '../serial-queue.js';

/** A promise and its resolver, so the test decides when each job ends. */
function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

t.test('jobs run one at a time, in order; a failure rejects only its own job', async (t) => {
  const q = new SerialQueue();
  const log: string[] = [];
  const g1 = gate();
  const a = q.run(async () => {
    log.push('a start');
    await g1.p;
    log.push('a end');
    return 'A';
  });
  const b = q.run(async () => {
    log.push('b');
    throw new Error('b failed');
  });
  const c = q.run(() => {
    log.push('c');
    return 'C';
  });
  t.equal(q.size, 3, 'three queued');
  await new Promise((r) => setImmediate(r));
  t.same(log, ['a start'], 'b waits for a');
  g1.open();
  t.equal(await a, 'A');
  await t.rejects(b, /b failed/);
  t.equal(await c, 'C', 'the job after a failure still runs');
  t.same(log, ['a start', 'a end', 'b', 'c']);
  await q.idle();
  t.equal(q.size, 0);
});

t.test('idle waits for every job queued so far and never rejects', async (t) => {
  const q = new SerialQueue();
  const g = gate();
  let done = false;
  void q.run(() => g.p.then(() => (done = true)));
  void q.run(() => Promise.reject(new Error('x'))).catch(() => undefined);
  const idle = q.idle();
  g.open();
  await idle;
  t.ok(done);
});
