/**
 * `sextant dns query` against real servers on loopback: Mesos-DNS fed the fixture state, a node
 * dispatcher forwarding `.mesos` to it, a dispatcher whose only upstream never answers (SERVFAIL),
 * and ports where nothing listens. Address plan: one loopback /24; .1 Mesos-DNS, .2 dispatcher,
 * .3 the dead upstream, .4 nothing at all.
 */
import t from 'tap';
import { join } from 'node:path';
import { freePort, loopbackBlock, spawnTracked } from '../../test/lib/index.js';
import type { CliIo } from '../../common/endpoint.js';
import { main, parseServer } from '../query-cli.js';
import { RecordSet } from '../mesos/recordset.js';
import { startMesosDns } from '../mesos/test/harness.js';
import { scripted, startDispatcher } from '../dispatcher/test/helpers.js';

const ip = loopbackBlock();
const mesos = await startMesosDns(t, {}, ip(1));
const mesosAt = `${ip(1)}:${mesos.port}`;
const deadUpstream = await scripted(t, ip(3), () => undefined);
const dispatcher = await startDispatcher(t, ip(2), { mesos_resolvers: [mesosAt], upstream_resolvers: [`${ip(3)}:${deadUpstream.port}`], timeout: 300 });

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const io: CliIo = { out: (s) => void (out += s), err: (s) => void (err += s) };
  const code = await main(argv, io);
  return { code, out, err };
}

t.test('Mesos-DNS: records, and which server answered over which transport', async (t) => {
  const r = await run('query', 'liquor-store.marathon.mesos', '--server', mesosAt);
  t.equal(r.code, 0, r.err);
  t.match(r.out, new RegExp(`^;; ${mesosAt.replace(/\./g, '\\.')} over udp answered NOERROR in [0-9.]+ ms \\(authoritative\\)\\n`));
  t.same(r.out.split('\n').filter((l) => !l.startsWith(';;') && l).sort(), ['liquor-store.marathon.mesos.\t60\tIN\tA\t10.3.0.1', 'liquor-store.marathon.mesos.\t60\tIN\tA\t10.3.0.2']);
  t.equal(r.err, '');
});

t.test('SRV over TCP', async (t) => {
  const r = await run('query', '_car-store._tcp.marathon.mesos', '--type', 'srv', '--tcp', '--server', mesosAt);
  t.equal(r.code, 0, r.err);
  t.match(r.out, `${mesosAt} over tcp answered NOERROR`);
  t.match(r.out, '_car-store._tcp.marathon.mesos.\t60\tIN\tSRV\t0 1 31364 car-store-zinaz-0.marathon.slave.mesos.\n');
  t.match(r.out, '_car-store._tcp.marathon.mesos.\t60\tIN\tSRV\t0 1 31365 car-store-zinaz-0.marathon.slave.mesos.\n');
});

t.test('--json: the whole reply as one object', async (t) => {
  const r = await run('query', 'toy-store.ipv6-framework.mesos', '--type', 'AAAA', '--json', '--server', mesosAt);
  t.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  t.same(j.question, { name: 'toy-store.ipv6-framework.mesos', type: 'AAAA' });
  t.match(j, { server: mesosAt, transport: 'udp', retriedOverTcp: false, rcode: 0, rcodeName: 'NOERROR', authoritative: true, truncated: false });
  t.type(j.ms, 'number');
  t.same(j.answers, [{ name: 'toy-store.ipv6-framework.mesos.', ttl: 60, class: 'IN', type: 'AAAA', data: 'fd01:b::1:8000:2' }]);
});

t.test('NOERROR without records: exit 0, says so', async (t) => {
  const r = await run('query', 'chronos.marathon.mesos', '--type', 'AAAA', '--server', mesosAt);
  t.equal(r.code, 0);
  t.match(r.out, ';; no AAAA records for chronos.marathon.mesos\n');
});

t.test('NXDOMAIN: exit 1, the name and the server in the message', async (t) => {
  const r = await run('query', 'missing.mesos', '--server', mesosAt);
  t.equal(r.code, 1);
  t.match(r.err, `sextant dns query: missing.mesos does not exist: ${mesosAt} over udp answered NXDOMAIN in `);
});

t.test('a truncated UDP reply is asked again over TCP, and the output says so', async (t) => {
  const big = new RecordSet();
  for (let i = 0; i < 80; i++) big.add('A', 'many.marathon.mesos', `10.8.${i}.1`);
  const own = await startMesosDns(t, {}, ip(5));
  own.dns.setRecords(big);
  const r = await run('query', 'many.marathon.mesos', '--server', `${ip(5)}:${own.port}`, '--json');
  t.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  t.match(j, { transport: 'tcp', retriedOverTcp: true, truncated: false });
  t.equal(j.answers.length, 80, 'all 80 records');
});

t.test("--agent: the agent's dispatcher, forwarding .mesos to Mesos-DNS", async (t) => {
  const r = await run('query', 'chronos.marathon.mesos', '--agent', `${ip(2)}:${dispatcher.udp}`);
  t.equal(r.code, 0, r.err);
  t.match(r.out, `;; ${ip(2)}:${dispatcher.udp} over udp answered NOERROR`);
  t.match(r.out, 'chronos.marathon.mesos.\t60\tIN\tA\t1.2.3.11\n');
});

t.test('SERVFAIL from a dispatcher whose upstream is dead: exit 1, clear message', async (t) => {
  const r = await run('query', 'example.org', '--agent', `${ip(2)}:${dispatcher.udp}`);
  t.equal(r.code, 1);
  t.match(r.err, `sextant dns query: the server failed to resolve example.org A: ${ip(2)}:${dispatcher.udp} over udp answered SERVFAIL`);
});

t.test('nothing listening: timeout over UDP, refused over TCP, both named', async (t) => {
  const port = await freePort(ip(4));
  const udp = await run('query', 'x.mesos', '--server', `${ip(4)}:${port}`, '--timeout', '300');
  t.equal(udp.code, 1);
  t.equal(udp.err, `sextant dns query: no answer from ${ip(4)}:${port} over udp within 300 ms (is a DNS server listening there?)\n`);
  t.equal(udp.out, '');
  const tcp = await run('query', 'x.mesos', '--server', `${ip(4)}:${port}`, '--tcp');
  t.equal(tcp.code, 1);
  t.equal(tcp.err, `sextant dns query: ${ip(4)}:${port} over tcp: connection refused (no DNS server listening there)\n`);
});

t.test('server addresses: IP, IP:PORT, [v6]:PORT, bare v6; port 53 unless given', async (t) => {
  const rows: [string, { host: string; port: number } | RegExp][] = [
    ['10.0.0.1', { host: '10.0.0.1', port: 53 }],
    ['10.0.0.1:61053', { host: '10.0.0.1', port: 61053 }],
    ['[fd00::1]:5353', { host: 'fd00::1', port: 5353 }],
    ['[fd00::1]', { host: 'fd00::1', port: 53 }],
    ['fd00::1', { host: 'fd00::1', port: 53 }],
    [' 127.0.0.1:53 ', { host: '127.0.0.1', port: 53 }],
    ['10.0.0', /--agent "10.0.0" is not an IP address/],
    ['agent1.example:53', /is not an IP address/],
    ['10.0.0.1:0', /is not an IP address/],
    ['10.0.0.1:70000', /is not an IP address/],
    ['10.0.0.1:', /is not an IP address/],
  ];
  for (const [v, want] of rows) {
    if (want instanceof RegExp) t.throws(() => parseServer(v, '--agent'), want, v);
    else t.same(parseServer(v, '--agent'), want, v);
  }
});

t.test('usage: help exits 0, bad input exits 2 naming what was wrong', async (t) => {
  const help = await run('query', '--help');
  t.equal(help.code, 0);
  t.match(help.out, 'Usage: sextant dns query [options] <name>');
  t.match(help.out, '--agent <ip[:port]>');
  const rows: [string[], RegExp][] = [
    [[], /Usage: sextant dns/],
    [['query'], /missing required argument 'name'/],
    [['query', 'x.mesos', '--type', 'BOGUS'], /option '--type <type>' argument 'BOGUS' is invalid\. unknown record type; one of A, NS/],
    [['query', 'x.mesos', '--agent', 'nope'], /--agent "nope" is not an IP address/],
    [['query', 'x.mesos', '--timeout', '0'], /milliseconds, 1 to 60000/],
    [['query', 'x.mesos', '--agent', '10.0.0.1', '--server', '10.0.0.2:53'], /give --agent or --server, not both/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [argv, re] of rows) {
    const r = await run(...argv);
    t.equal(r.code, 2, argv.join(' '));
    t.match(r.err, re, argv.join(' '));
  }
});

t.test('`sextant dns` is dispatched by the executable', async (t) => {
  const root = new URL('../../', import.meta.url).pathname;
  const p = spawnTracked(t, process.execPath, ['--import', 'tsx', join(root, 'cli/sextant.ts'), 'dns', 'query', 'leader.mesos', '--server', mesosAt], { cwd: root });
  t.equal(await p.exited, 0, p.output());
  t.match(p.output(), 'leader.mesos.\t60\tIN\tA\t1.2.3.4\n', 'leader.mesos answered through `sextant dns query`');
});
