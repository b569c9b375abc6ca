/** The sextant-mesos-dns unit, one row per state (injected clock, no waiting). */
import t from 'tap';
import { mesosDnsHealthCheck, type LoadState } from '../health.js';

const NOW = 1_000_000;
const clock = { now: () => NOW } as never;

t.test('sextant-mesos-dns from its load state', async (t) => {
  const rows: [string, LoadState, boolean, RegExp][] = [
    ['not started', { refreshSeconds: 60 }, false, /^not started$/],
    ['start failed', { refreshSeconds: 60, startError: 'listen EADDRINUSE 10.0.0.1:61053' }, false, /not serving: listen EADDRINUSE/],
    ['serving, nothing loaded', { refreshSeconds: 60, serving: true, lastError: 'malformed' }, false, /no master state loaded yet \(last error: malformed\)/],
    ['loaded, nothing pending', { refreshSeconds: 60, serving: true, loadedAt: NOW - 5000, records: 12 }, true, /^12 record\(s\) from the master state loaded 5\.0 s ago$/],
    ['a change pending within the window', { refreshSeconds: 60, serving: true, loadedAt: NOW - 90_000, records: 12, pendingSince: NOW - 59_000 }, true, /loaded 90\.0 s ago/],
    ['a change pending past the window', { refreshSeconds: 60, serving: true, loadedAt: NOW - 90_000, records: 12, pendingSince: NOW - 61_000, lastError: 'the master state was rejected' }, false, /changed 61\.0 s ago, longer than RefreshSeconds \(60\).*last loaded 90\.0 s ago \(last error: the master state was rejected\)/],
  ];
  for (const [what, state, healthy, output] of rows) {
    const r = await mesosDnsHealthCheck(() => state, clock).check(new AbortController().signal);
    t.equal(r.healthy, healthy, `${what}: ${healthy ? 'healthy' : 'unhealthy'}`);
    t.match(r.output, output, `${what}: ${r.output}`);
  }
});
