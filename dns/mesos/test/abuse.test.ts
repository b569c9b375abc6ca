/**
 * Mesos-DNS under abuse (issue #24): bad TCP length prefixes answered FORMERR where they carry an
 * ID and closed, idle and half-closed connections closed; a query name that once cost an error
 * line per packet is answered; error lines a client can cause per packet are limited per kind
 * and counted. A real server on loopback, raw sockets; the log limit on an injected clock.
 */
import t from 'tap';
import dgram from 'node:dgram';
import { FakeClock } from '../../../common/clock.js';
import { setLogSink } from '../../../common/log.js';
import { createRegistry, type Registry } from '../../../common/metrics.js';
import { freePort, loopbackBlock } from '../../../test/lib/index.js';
import { abuseRows, frame, frames, rawTcp, runAbuseRows } from '../../wire/test/tcp-abuse.js';
import { parseConfig } from '../config.js';
import { MesosDns } from '../mesosdns.js';

const IDLE = 400;

interface T {
  teardown(fn: () => unknown): void;
}

async function start(t: T, extra: Record<string, unknown> = {}, clock?: FakeClock): Promise<{ dns: MesosDns; ip: string; port: number; registry: Registry }> {
  const ip = loopbackBlock()(1);
  const port = await freePort(ip);
  const { config } = parseConfig({ Masters: [`${ip}:5050`], Listener: ip, Port: port, HttpOn: false, ExternalOn: false, TCPIdleTimeout: IDLE / 1000, ...extra });
  const registry = createRegistry();
  const dns = new MesosDns({ config, registry, lookup: async () => [], clock });
  await dns.start();
  t.teardown(() => dns.stop());
  await dns.setState({ leader: `master@${ip}:5050`, slaves: [], frameworks: [] }, [`${ip}:5050`]);
  return { dns, ip, port, registry };
}

/** A query for `qname` given as raw label bytes (any byte allowed), ID 0x4242. */
function rawQuery(labels: number[][], qtype: number): Buffer {
  const name = Buffer.from([...labels.flatMap((l) => [l.length, ...l]), 0]);
  return Buffer.concat([Buffer.from([0x42, 0x42, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, qtype, 0, 1])]);
}
const ascii = (s: string) => [...Buffer.from(s, 'latin1')];

function udp(ip: string, port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => (s.close(), reject(new Error('no UDP answer'))), 2000);
    s.on('message', (m) => (clearTimeout(timer), s.close(), resolve(m)));
    s.send(msg, port, ip);
  });
}

async function counter(r: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = await r.getSingleMetric(name)?.get();
  return m?.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0) ?? 0;
}

function captureLog(t: { teardown(fn: () => unknown): void }): string[] {
  const lines: string[] = [];
  setLogSink({ write: (l) => lines.push(l) });
  t.teardown(() => setLogSink({ write: (l) => process.stderr.write(l) }));
  return lines;
}

t.test('bad length prefixes, cut frames, idle and half-closed connections', async (t) => {
  const { ip, port, registry } = await start(t);
  const good = rawQuery([ascii('leader'), ascii('mesos')], 1);
  await runAbuseRows(t, ip, port, IDLE, abuseRows(good));
  t.ok((await counter(registry, 'sextant_mesos_dns_malformed_total', { transport: 'tcp' })) >= 4, 'bad frames counted as malformed');
  const r = await rawTcp(ip, port, [frame(good)], { end: true });
  t.equal(frames(r.data)[0]![3]! & 0xf, 0, 'still answering TCP');
});

t.test('a label holding a dot: answered as any unknown name, question as sent, no error line per packet', async (t) => {
  const lines = captureLog(t);
  const { ip, port } = await start(t);
  // `maratho.` as one label (the byte 0x2e inside it), found by the fuzzer; TXT, AAAA, SOA, SRV, NS.
  const labels = [ascii('liquor-store'), ascii('maratho.'), ascii('mesos')];
  for (const qtype of [16, 28, 6, 33, 2]) {
    const q = rawQuery(labels, qtype);
    const r = await udp(ip, port, q);
    const plain = await udp(ip, port, rawQuery([ascii('liquor-store'), ascii('marathon'), ascii('mesos')], qtype));
    t.equal(r[3]! & 0xf, plain[3]! & 0xf, `type ${qtype}: the rcode of an unknown name (${plain[3]! & 0xf}), not SERVFAIL`);
    t.same(r.subarray(12, q.length), q.subarray(12), 'the question bytes as sent');
  }
  for (let i = 0; i < 2000; i++) await udp(ip, port, rawQuery(labels, 16));
  t.equal(lines.filter((l) => JSON.parse(l).level === 'error').length, 0, '2,000 packets, no error line');
});

t.test('an error a client can cause per packet: a few lines per kind, the rest counted', async (t) => {
  const lines = captureLog(t);
  const clock = new FakeClock();
  const { dns, ip, port, registry } = await start(t, { LogLimitPerSecond: 1, LogLimitBurst: 5 }, clock);
  // Answers that fail on every query (a fault the server must survive, answering SERVFAIL).
  const boom = () => {
    throw new Error('boom');
  };
  (dns as unknown as { current: { answers: unknown } }).current.answers = { respond: boom, shared: boom };
  const N = 500;
  for (let i = 0; i < N; i++) if (((await udp(ip, port, rawQuery([ascii('leader'), ascii('mesos')], 1)))[3]! & 0xf) !== 2) t.fail(`query ${i}: not SERVFAIL`);
  const failed = lines.filter((l) => JSON.parse(l).event === 'dns_handler_failed');
  t.equal(failed.length, 5, `${N} failing queries, 5 log lines (the burst)`);
  t.equal(await counter(registry, 'sextant_mesos_dns_log_dropped_total', { kind: 'dns_handler_failed' }), N - 5, 'the rest counted by kind');
  clock.advance(1000);
  await udp(ip, port, rawQuery([ascii('leader'), ascii('mesos')], 1));
  t.match(JSON.parse(lines.filter((l) => JSON.parse(l).event === 'dns_handler_failed').at(-1)!), { suppressed: N - 5 });
});
