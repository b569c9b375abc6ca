import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { FakeClock } from '../../common/clock.js';
import type { HealthCheckSpec } from '../../contracts/index.js';
import { HealthChecker } from '../health.js';
import { freePort } from '../../test/lib/index.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

/** A tiny HTTP server answering with the given status (or never, for 0). */
async function server(t: Teardownable, status: number): Promise<number> {
  const s = http.createServer((_req, res) => {
    if (status === 0) return; // hang: exercises the timeout
    res.writeHead(status);
    res.end();
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r()))));
  return (s.address() as net.AddressInfo).port;
}

function spec(p: Partial<HealthCheckSpec>): HealthCheckSpec {
  return { protocol: 'HTTP', path: '/', interval_seconds: 1, timeout_seconds: 1, grace_period_seconds: 0, max_consecutive_failures: 3, ...p };
}

/** Drive a checker with a fake clock: each step fires the next check and awaits its result. */
function driver(s: HealthCheckSpec, port: number | undefined) {
  const clock = new FakeClock();
  const changes: boolean[] = [];
  let gaveUp = 0;
  let next: ((r: { ok: boolean; why?: string }) => void) | undefined;
  const hc = new HealthChecker(s, { host: '127.0.0.1', port, cwd: tmpdir(), env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }, clock, {
    onChange: (h) => changes.push(h),
    onGiveUp: (n) => (gaveUp = n),
    onResult: (ok, why) => next?.({ ok, why }),
  });
  const step = (advanceMs: number, alsoAdvance = 0) => {
    const p = new Promise<{ ok: boolean; why?: string }>((r) => (next = r));
    clock.advance(advanceMs);
    if (alsoAdvance) setTimeout(() => clock.advance(alsoAdvance), 50);
    return p;
  };
  return { hc, clock, changes, step, gaveUp: () => gaveUp };
}

t.test('probe kinds', async (t) => {
  const ok200 = await server(t, 200);
  const redirect = await server(t, 302);
  const err500 = await server(t, 500);
  const closed = await freePort();
  const rows: { name: string; spec: Partial<HealthCheckSpec>; port?: number; ok: boolean; why?: RegExp }[] = [
    { name: 'HTTP 200 healthy', spec: { protocol: 'HTTP' }, port: ok200, ok: true },
    { name: 'HTTP 302 healthy', spec: { protocol: 'HTTP' }, port: redirect, ok: true },
    { name: 'HTTP 500 unhealthy', spec: { protocol: 'HTTP' }, port: err500, ok: false, why: /HTTP 500/ },
    { name: 'HTTP refused unhealthy', spec: { protocol: 'HTTP' }, port: closed, ok: false, why: /ECONNREFUSED/ },
    { name: 'TCP connect healthy', spec: { protocol: 'TCP' }, port: ok200, ok: true },
    { name: 'TCP refused unhealthy', spec: { protocol: 'TCP' }, port: closed, ok: false, why: /ECONNREFUSED/ },
    { name: 'COMMAND exit 0 healthy', spec: { protocol: 'COMMAND', command: 'true' }, ok: true },
    { name: 'COMMAND exit 2 unhealthy', spec: { protocol: 'COMMAND', command: 'exit 2' }, ok: false, why: /exit 2/ },
  ];
  for (const row of rows) {
    const d = driver(spec(row.spec), row.port);
    d.hc.start();
    const r = await d.step(0);
    d.hc.stop();
    t.equal(r.ok, row.ok, row.name);
    if (row.why) t.match(r.why, row.why, `${row.name}: reason`);
    t.same(d.changes, [row.ok], `${row.name}: reported once`);
  }
});

t.test('timeouts count as failures', async (t) => {
  const hang = await server(t, 0);
  const rows: Partial<HealthCheckSpec>[] = [{ protocol: 'HTTP' }, { protocol: 'COMMAND', command: 'sleep 30' }];
  for (const row of rows) {
    const d = driver(spec({ ...row, timeout_seconds: 2 }), hang);
    d.hc.start();
    const r = await d.step(0, 2000);
    d.hc.stop();
    t.same(r, { ok: false, why: 'timed out' }, `${row.protocol} timed out`);
  }
});

t.test('grace period, change-only reporting, kill after max consecutive failures', async (t) => {
  const bad = await server(t, 503);
  const d = driver(spec({ grace_period_seconds: 10, interval_seconds: 4, max_consecutive_failures: 2 }), bad);
  d.hc.start();
  await d.step(0); // t=0, in grace
  await d.step(4000); // t=4, in grace
  await d.step(4000); // t=8, in grace
  t.same(d.changes, [], 'failures inside the grace period are ignored');
  t.equal(d.hc.consecutiveFailures, 0);
  await d.step(4000); // t=12: counts
  t.same(d.changes, [false], 'unhealthy reported once');
  t.equal(d.gaveUp(), 0);
  await d.step(4000); // t=16: second failure -> give up
  t.same(d.changes, [false], 'not reported again without change');
  t.equal(d.gaveUp(), 2, 'asked to kill after max_consecutive_failures');
});

t.test('a success resets the failure count; 0 max failures never gives up', async (t) => {
  let status = 500;
  const s = http.createServer((_q, res) => (res.writeHead(status), res.end()));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
  const port = (s.address() as net.AddressInfo).port;
  const d = driver(spec({ max_consecutive_failures: 0 }), port);
  d.hc.start();
  for (let i = 0; i < 4; i++) await d.step(i ? 1000 : 0);
  t.equal(d.hc.consecutiveFailures, 4);
  status = 200;
  await d.step(1000);
  t.equal(d.hc.consecutiveFailures, 0);
  t.same(d.changes, [false, true]);
  t.equal(d.gaveUp(), 0);
  d.hc.stop();
});

/** A checker over a scripted probe: records when (clock time) each probe ran. */
function scripted(s: HealthCheckSpec, answer: (n: number) => string | undefined) {
  const clock = new FakeClock(0);
  const at: number[] = [];
  const changes: boolean[] = [];
  let next: (() => void) | undefined;
  const probe = async () => {
    at.push(clock.now());
    return answer(at.length);
  };
  const hc = new HealthChecker(s, { host: '127.0.0.1', port: 1, cwd: tmpdir(), env: {} }, clock, { onChange: (h) => changes.push(h), onGiveUp: () => undefined, onResult: () => next?.() }, probe);
  /** Advance to the next probe (at most `maxMs`) and await its result. */
  const step = async (ms: number) => {
    const done = new Promise<void>((r) => (next = r));
    clock.advance(ms);
    await done;
  };
  return { hc, clock, at, changes, step };
}

t.test('in the grace period a failed probe is retried within a second; the first counted check runs when the grace period ends', async (t) => {
  const d = scripted(spec({ grace_period_seconds: 2.5, interval_seconds: 60 }), () => 'ECONNREFUSED');
  d.hc.start();
  for (const ms of [0, 1000, 1000, 500]) await d.step(ms);
  t.same(d.at, [0, 1000, 2000, 2500], 'retried every second, then at the end of the grace period');
  t.same(d.changes, [false], 'the check at the end of the grace period counts');
  d.clock.advance(59_999);
  t.equal(d.at.length, 4, 'after the grace period: a full interval');
  await d.step(1);
  t.same(d.at.at(-1), 62_500);
  d.hc.stop();
});

t.test('a task that comes up after a second is healthy after a second, whatever the interval', async (t) => {
  const d = scripted(spec({ grace_period_seconds: 300, interval_seconds: 60 }), (n) => (n < 2 ? 'ECONNREFUSED' : undefined));
  d.hc.start();
  await d.step(0);
  await d.step(1000);
  t.same(d.at, [0, 1000]);
  t.same(d.changes, [true], 'healthy at the second probe, one second in');
  d.clock.advance(59_999);
  t.equal(d.at.length, 2, 'then probes every interval');
  d.hc.stop();
});
