// The per-kind log limiter: token buckets on an injected clock, dropped lines counted per kind.
import t from 'tap';
import { FakeClock } from '../clock.js';
import { createLogger, setLogSink } from '../log.js';
import { LogLimiter, limitedLogger, logDroppedCounter } from '../log-limit.js';
import { createRegistry } from '../metrics.js';

const lines: Record<string, unknown>[] = [];
setLogSink({ write: (l) => lines.push(JSON.parse(l)) });
t.beforeEach(() => void (lines.length = 0));

async function dropped(r: ReturnType<typeof createRegistry>, name: string, kind: string): Promise<number> {
  const m = await r.getSingleMetric(name)!.get();
  return m.values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

t.test('a burst passes, then the rate; the rest is dropped and counted per kind', async (t) => {
  const clock = new FakeClock();
  const r = createRegistry();
  const log = limitedLogger(createLogger('dispatcher'), new LogLimiter({ perSecond: 2, burst: 3 }, clock), logDroppedCounter(r, 'dispatcher'));
  for (let i = 0; i < 2000; i++) log.error('query_handler_failed', { i });
  t.equal(lines.length, 3, '2,000 packets, 3 lines (the burst)');
  t.equal(await dropped(r, 'sextant_dispatcher_log_dropped_total', 'query_handler_failed'), 1997);
  log.warn('other_kind');
  t.equal(lines.length, 4, 'another kind has its own bucket');
  clock.advance(500);
  log.error('query_handler_failed', { i: 'late' });
  t.equal(lines.length, 5, 'one token back after 500 ms at 2/s');
  t.match(lines[4], { event: 'query_handler_failed', i: 'late', suppressed: 1997 }, 'the next line says how many were dropped');
  log.error('query_handler_failed');
  t.equal(lines.length, 5, 'and the bucket is empty again');
  clock.advance(60_000);
  for (let i = 0; i < 10; i++) log.error('query_handler_failed');
  t.equal(lines.length, 8, 'a long quiet refills only up to the burst');
});

t.test('child loggers share the buckets; lines below the level cost nothing', async (t) => {
  const clock = new FakeClock();
  const r = createRegistry();
  const base = limitedLogger(createLogger('mesos-dns'), new LogLimiter({ perSecond: 1, burst: 1 }, clock), logDroppedCounter(r, 'mesos-dns'));
  base.child({ conn: 1 }).error('dns_handler_failed');
  base.child({ conn: 2 }).error('dns_handler_failed');
  t.equal(lines.length, 1);
  t.match(lines[0], { conn: 1 });
  t.equal(await dropped(r, 'sextant_mesos_dns_log_dropped_total', 'dns_handler_failed'), 1);
  const prev = process.env.SEXTANT_LOG_LEVEL;
  process.env.SEXTANT_LOG_LEVEL = 'info';
  t.teardown(() => (prev === undefined ? delete process.env.SEXTANT_LOG_LEVEL : (process.env.SEXTANT_LOG_LEVEL = prev)));
  for (let i = 0; i < 5; i++) base.debug('tcp_frame_refused');
  t.equal(await dropped(r, 'sextant_mesos_dns_log_dropped_total', 'tcp_frame_refused'), 0, 'debug lines at level info are not "dropped"');
});

t.test('the counter is created once per registry; a bad limit is refused', async (t) => {
  const r = createRegistry();
  t.equal(logDroppedCounter(r, 'dispatcher'), logDroppedCounter(r, 'dispatcher'));
  t.throws(() => new LogLimiter({ perSecond: 0, burst: 1 }), /perSecond > 0/);
  t.throws(() => new LogLimiter({ perSecond: 1, burst: 0 }), /burst >= 1/);
});
