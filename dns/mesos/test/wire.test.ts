// A real DNS client (dig) on the wire against the running server, and dnsmasq as upstream.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTools, spawnTracked, freePort, loopbackBlock } from '../../../test/lib/index.js';
import { startMesosDns } from './harness.js';

const pexec = promisify(execFile);
const tools = requireTools('dig', 'dnsmasq');

async function dig(ip: string, port: number, name: string, type: string, ...opts: string[]) {
  const { stdout } = await pexec(tools.dig!, [`@${ip}`, '-p', String(port), name, type, '+tries=1', '+time=3', '+nocookie', '+noedns', ...opts]);
  const status = /status: (\w+)/.exec(stdout)?.[1];
  const flags = /flags: ([a-z ]+);/.exec(stdout)?.[1]?.trim().split(' ') ?? [];
  const section = (n: string) => {
    const m = new RegExp(`;; ${n} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(stdout);
    return m ? m[1]!.split('\n').filter(Boolean).map((l) => l.split(/\s+/)) : [];
  };
  return { stdout, status, flags, answer: section('ANSWER'), authority: section('AUTHORITY'), additional: section('ADDITIONAL') };
}

t.test('dig against Mesos-DNS', async (t) => {
  const { ip, port } = await startMesosDns(t);
  const rows: { q: [string, string]; status: string; answer: string[]; authType?: string }[] = [
    { q: ['liquor-store.marathon.mesos', 'A'], status: 'NOERROR', answer: ['10.3.0.1', '10.3.0.2'] },
    { q: ['toy-store.ipv6-framework.mesos', 'AAAA'], status: 'NOERROR', answer: ['fd01:b::1:8000:2'] },
    { q: ['_car-store._tcp.marathon.mesos', 'SRV'], status: 'NOERROR', answer: ['0 1 31364 car-store-zinaz-0.marathon.slave.mesos.', '0 1 31365 car-store-zinaz-0.marathon.slave.mesos.'] },
    { q: ['mesos', 'SOA'], status: 'NOERROR', answer: [], authType: 'SOA' },
    { q: ['mesos', 'NS'], status: 'NOERROR', answer: [], authType: 'NS' },
    { q: ['leader.mesos', 'ANY'], status: 'NOERROR', answer: ['1.2.3.4'] },
    { q: ['poseidon.marathon.mesos', 'A'], status: 'NXDOMAIN', answer: [], authType: 'SOA' },
    { q: ['chronos.marathon.mesos', 'AAAA'], status: 'NOERROR', answer: [], authType: 'SOA' },
    { q: ['google.com', 'A'], status: 'REFUSED', answer: [] },
  ];
  for (const r of rows) {
    const d = await dig(ip, port, r.q[0], r.q[1]);
    const label = r.q.join(' ');
    t.equal(d.status, r.status, `${label} status`);
    t.same(d.answer.map((a) => a.slice(4).join(' ')).sort(), [...r.answer].sort(), `${label} answer`);
    if (r.authType) t.equal(d.authority[0]?.[3], r.authType, `${label} authority`);
    if (r.status !== 'REFUSED') t.ok(d.flags.includes('aa'), `${label} aa`);
  }
});

t.test('TC over UDP, then the full answer over TCP', async (t) => {
  const { dns, ip, port } = await startMesosDns(t);
  const { RecordSet } = await import('../recordset.js');
  const rs = new RecordSet();
  for (let i = 0; i < 80; i++) rs.add('A', 'many.marathon.mesos', `10.8.${i}.1`);
  dns.setRecords(rs);
  const udp = await dig(ip, port, 'many.marathon.mesos', 'A', '+ignore');
  t.ok(udp.flags.includes('tc'), 'tc flag over UDP');
  t.ok(udp.answer.length < 80);
  const tcp = await dig(ip, port, 'many.marathon.mesos', 'A', '+tcp');
  t.equal(tcp.answer.length, 80, 'all 80 over TCP');
  const auto = await dig(ip, port, 'many.marathon.mesos', 'A');
  t.equal(auto.answer.length, 80, 'dig retries over TCP on TC');
});

t.test('forwarding to dnsmasq when externalon; zoneResolvers', async (t) => {
  const block = loopbackBlock();
  const upIp = block(2);
  const upPort = await freePort(upIp);
  const dir = mkdtempSync(join(tmpdir(), 'sx-mdns-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'hosts'), '5.6.7.8 zoned.corp.test\n');
  const dm = spawnTracked(t, tools.dnsmasq!, [
    '--no-daemon', `--port=${upPort}`, `--listen-address=${upIp}`, '--bind-interfaces', '--no-resolv', '--no-hosts',
    '--address=/ext.test/1.2.3.4', `--addn-hosts=${join(dir, 'hosts')}`, '--log-facility=-', `--pid-file=${join(dir, 'pid')}`,
  ]);
  await dm.waitFor(/started|compile time/);
  const { ip, port } = await startMesosDns(t, { ExternalOn: true, Resolvers: [`${upIp}:${upPort}`], ZoneResolvers: { 'corp.test': [`${upIp}:${upPort}`] } }, block(1));
  const a = await dig(ip, port, 'www.ext.test', 'A');
  t.equal(a.status, 'NOERROR');
  t.same(a.answer.map((x) => x[4]), ['1.2.3.4']);
  const z = await dig(ip, port, 'zoned.corp.test', 'A');
  t.same(z.answer.map((x) => x[4]), ['5.6.7.8'], 'zone resolver');
  const tcp = await dig(ip, port, 'www.ext.test', 'A', '+tcp');
  t.same(tcp.answer.map((x) => x[4]), ['1.2.3.4'], 'forwarded over TCP');
  const own = await dig(ip, port, 'leader.mesos', 'A');
  t.same(own.answer.map((x) => x[4]), ['1.2.3.4'], 'own domain still answered');
});
