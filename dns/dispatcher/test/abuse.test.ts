/**
 * The dispatcher under abuse (issue #24): bad TCP length prefixes answered FORMERR where they carry
 * an ID and closed, idle and half-closed connections closed, log lines a client can cause per
 * packet limited per kind and counted. Real listeners on loopback, raw sockets.
 * Address plan: one loopback /24 per test; .1 dispatcher, .2 upstream.
 */
import t from 'tap';
import net from 'node:net';
import { FakeClock } from '../../../common/clock.js';
import { setLogSink } from '../../../common/log.js';
import { loopbackBlock } from '../../../test/lib/index.js';
import { abuseRows, frame, frames, rawTcp, runAbuseRows } from '../../wire/test/tcp-abuse.js';
import { answer, metric, query, rcode, scripted, startDispatcher, tcpAsk } from './helpers.js';

const A = 1;
const IDLE = 400;

t.test('bad length prefixes, cut frames, idle and half-closed connections', async (t) => {
  const ip = loopbackBlock();
  const { d, tcp } = await startDispatcher(t, ip(1), { tcp_idle_timeout: IDLE });
  const good = query('localhost', A, { id: 0x4242 });
  await runAbuseRows(t, ip(1), tcp, IDLE, abuseRows(good, 16384));
  t.ok((await metric(d, 'sextant_dispatcher_malformed_total', { transport: 'tcp' })) >= 5, 'bad frames counted as malformed');
  const [after] = await tcpAsk(ip(1), tcp, [good]);
  t.equal(rcode(after!), 0, 'still answering TCP');
});

t.test('a half-closed connection still gets the answers in flight, then is closed', async (t) => {
  const ip = loopbackBlock();
  const up = await scripted(t, ip(2), (q) => new Promise((r) => setTimeout(() => r(answer(q, ['1.2.3.4'])), 200)));
  const { tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up.port}`], tcp_idle_timeout: 5000, cache: { enabled: false } });
  const r = await rawTcp(ip(1), tcp, [frame(query('a.test', A, { id: 7 })), frame(query('b.test', A, { id: 8 }))], { end: true });
  t.ok(r.closed, 'closed');
  t.same(frames(r.data).map((m) => m.readUInt16BE(0)).sort(), [7, 8], 'both forwarded answers sent after the FIN');
  t.ok(r.ms >= 150 && r.ms < 2000, `closed once they were sent (${r.ms} ms), not at the idle time-out`);
});

t.test('many connections with bad frames: a few log lines per kind, the rest counted', async (t) => {
  const prev = process.env.SEXTANT_LOG_LEVEL;
  process.env.SEXTANT_LOG_LEVEL = 'debug';
  const lines: string[] = [];
  setLogSink({ write: (l) => lines.push(l) });
  t.teardown(() => {
    setLogSink({ write: (l) => process.stderr.write(l) });
    if (prev === undefined) delete process.env.SEXTANT_LOG_LEVEL;
    else process.env.SEXTANT_LOG_LEVEL = prev;
  });
  const ip = loopbackBlock();
  const clock = new FakeClock(); // no time passes: no token comes back
  const { d, tcp } = await startDispatcher(t, ip(1), { log_limit: { per_second: 1, burst: 5 } }, { clock });
  const N = 60;
  for (let i = 0; i < N; i++) {
    const r = await rawTcp(ip(1), tcp, [Buffer.from([0, 0])]);
    if (!r.closed) t.fail(`connection ${i} not closed`);
  }
  const refused = lines.filter((l) => JSON.parse(l).event === 'tcp_frame_refused');
  t.equal(refused.length, 5, `${N} bad frames, 5 log lines (the burst)`);
  t.equal(await metric(d, 'sextant_dispatcher_log_dropped_total', { kind: 'tcp_frame_refused' }), N - 5, 'the rest counted by kind');
  clock.advance(3000);
  await rawTcp(ip(1), tcp, [Buffer.from([0, 0])]);
  const last = lines.filter((l) => JSON.parse(l).event === 'tcp_frame_refused').at(-1)!;
  t.match(JSON.parse(last), { suppressed: N - 5 }, 'the next line that passes says how many were dropped');
});

t.test('the idle time-out is the configured one', async (t) => {
  const ip = loopbackBlock();
  const { tcp } = await startDispatcher(t, ip(1), { tcp_idle_timeout: 1200 });
  const t0 = Date.now();
  await new Promise<void>((resolve) => {
    const s = net.connect({ host: ip(1), port: tcp });
    s.on('close', () => resolve());
    s.on('error', () => {});
    s.resume();
  });
  const ms = Date.now() - t0;
  t.ok(ms >= 1100 && ms < 3000, `closed after ${ms} ms for tcp_idle_timeout 1200`);
});
