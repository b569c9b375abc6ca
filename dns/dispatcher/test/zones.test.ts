/**
 * Local zones fed from a control-plane snapshot: answers, updates visible at once, NXDOMAIN that
 * never leaves the node, round-robin, size limits, built-in names. Address plan: .1 dispatcher,
 * .2 upstream (counts what reaches it).
 */
import t from 'tap';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopbackBlock } from '../../../test/lib/index.js';
import type { Snapshot, ZoneRecord } from '../../../contracts/index.js';
import { addresses, ancount, answer, metric, query, rcode, scripted, startDispatcher, tc, tcpAsk, udpAsk } from './helpers.js';

const A = 1;
const AAAA = 28;
const SRV = 33;
const SOA = 6;

function rec(name: string, type: ZoneRecord['type'], data: string): ZoneRecord {
  return { key: `${name}/${type}/${data}`, name, type, data };
}

function snapshot(version: number, zones: ZoneRecord[]): Snapshot {
  return {
    history: 'h',
    version,
    overlay: { vtep_subnet: '44.128.0.0/20', vtep_mac_oui: '70:B3:D5:00:00:00', vni: 1024, vtep_name: 'vtep1024', vxlan_port: 64000 },
    parts: { vips: [], zones, networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters: [] },
  };
}

const web = 'web.marathon.l4lb.thisdcos.directory';
const task = 'nginx.marathon.agentip.dcos.thisdcos.directory';

async function setup(t: { teardown(fn: () => unknown): void }) {
  const ip = loopbackBlock();
  const up = await scripted(t, ip(2), (q) => answer(q, ['8.8.8.8']));
  const { d, udp, tcp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up.port}`] });
  await d.snapshotConsumer().apply(snapshot(1, [rec(web, 'A', '11.0.0.1'), rec(web, 'AAAA', 'fd01:c::1'), rec(task, 'A', '10.0.0.5'), rec(task, 'A', '10.0.0.6'), rec('_web._tcp.marathon.l4lb.thisdcos.directory', 'SRV', '0 1 80 web.marathon.l4lb.thisdcos.directory')]));
  return { ip, up, d, udp, tcp };
}

t.test('answers from the snapshot, TTL 5, authoritative', async (t) => {
  const { ip, udp, up } = await setup(t);
  const rows: [string, number, number, number][] = [
    // name, type, rcode, answers
    [web, A, 0, 1],
    [web.toUpperCase(), A, 0, 1],
    [web, AAAA, 0, 1],
    [task, A, 0, 2],
    ['_web._tcp.marathon.l4lb.thisdcos.directory', SRV, 0, 1],
    [web, SRV, 0, 0],
    ['nope.marathon.l4lb.thisdcos.directory', A, 3, 0],
    ['thisdcos.directory', SOA, 0, 1],
    ['l4lb.thisdcos.directory', A, 0, 0],
    ['ready.spartan', A, 0, 1],
    ['localhost', A, 0, 1],
    ['localhost', AAAA, 0, 1],
    ['foo.spartan', A, 3, 0],
  ];
  for (const [name, type, rc, n] of rows) {
    const r = await udpAsk(ip(1), udp, query(name, type));
    t.equal(rcode(r), rc, `${name}/${type} rcode`);
    t.equal(ancount(r), n, `${name}/${type} answers`);
    t.ok(r[2]! & 0x04, `${name} AA`);
    if (n && type === A) t.equal(r.readUInt32BE(r.length - 10), 5, `${name} TTL 5`);
  }
  const upper = await udpAsk(ip(1), udp, query(web.toUpperCase(), A));
  t.equal(upper.subarray(13, 16).toString(), 'WEB', 'question echoed in the client spelling');
  t.same(addresses(await udpAsk(ip(1), udp, query('ready.spartan', A))), [ip(1)], 'ready.spartan is the listening address');
  t.equal(up.received.length, 0, 'nothing under thisdcos.directory, spartan or localhost left the node');
});

t.test('master and leader names come from the master list', async (t) => {
  const { ip, d, udp } = await setup(t);
  const s = snapshot(5, [rec('master.dcos.thisdcos.directory', 'A', '10.0.0.1')]);
  s.parts.masters = [
    { key: 'm1', id: 'm1', ip: '10.0.0.1', port: 5050, control_port: 5060, dns_port: 61053, leader: true },
    { key: 'm2', id: 'm2', ip: '10.0.0.2', port: 5050, control_port: 5060, dns_port: 61053, leader: false },
  ];
  await d.snapshotConsumer().apply(s);
  t.same(addresses(await udpAsk(ip(1), udp, query('master.dcos.thisdcos.directory', A))).sort(), ['10.0.0.1', '10.0.0.2'], 'no duplicate');
  t.same(addresses(await udpAsk(ip(1), udp, query('leader.dcos.thisdcos.directory', A))), ['10.0.0.1']);
  const r = d.routes.route('x.mesos');
  t.same(r.kind === 'forward' && r.resolvers.map((e) => e.label), ['10.0.0.1:61053', '10.0.0.2:61053'], 'Mesos-DNS resolvers follow the masters');
});

t.test('NXDOMAIN carries the SOA of ns.spartan', async (t) => {
  const { ip, udp } = await setup(t);
  const r = await udpAsk(ip(1), udp, query('x.thisdcos.directory', A));
  t.equal(r.readUInt16BE(8), 1, 'one authority record');
  t.ok(r.includes(Buffer.from('\x02ns\x07spartan', 'latin1')), 'SOA mname ns.spartan');
});

t.test('an update of the snapshot is visible in the next query', async (t) => {
  const { ip, d, udp } = await setup(t);
  t.same(addresses(await udpAsk(ip(1), udp, query(web, A))), ['11.0.0.1']);
  await d.snapshotConsumer().apply(snapshot(2, [rec(web, 'A', '11.0.0.2'), rec('new.marathon.l4lb.thisdcos.directory', 'A', '11.0.0.3')]));
  t.same(addresses(await udpAsk(ip(1), udp, query(web, A))), ['11.0.0.2']);
  t.same(addresses(await udpAsk(ip(1), udp, query('new.marathon.l4lb.thisdcos.directory', A))), ['11.0.0.3']);
  t.equal(rcode(await udpAsk(ip(1), udp, query(task, A))), 3, 'removed name is gone');
  t.equal(await metric(d, 'sextant_dispatcher_zone_records', { zone: 'thisdcos.directory' }), 2);
});

t.test('a bad record is refused (NACK) and changes nothing', async (t) => {
  const { ip, d, udp } = await setup(t);
  await t.rejects(d.snapshotConsumer().apply(snapshot(3, [rec(web, 'A', 'not-an-ip')])), { name: 'ZoneRecordError' });
  await t.rejects(d.snapshotConsumer().apply(snapshot(3, [rec('web.example.com', 'A', '1.1.1.1')])), { name: 'ZoneRecordError' });
  t.same(addresses(await udpAsk(ip(1), udp, query(web, A))), ['11.0.0.1']);
});

t.test('answers rotate round-robin', async (t) => {
  const { ip, udp } = await setup(t);
  const firsts = new Set<string>();
  for (let i = 0; i < 4; i++) firsts.add(addresses(await udpAsk(ip(1), udp, query(task, A)))[0]!);
  t.same([...firsts].sort(), ['10.0.0.5', '10.0.0.6']);
});

t.test('UDP size: 512 with TC without EDNS0, the client EDNS0 size otherwise, all over TCP', async (t) => {
  const { ip, d, udp, tcp } = await setup(t);
  const many = Array.from({ length: 50 }, (_, i) => rec('many.marathon.l4lb.thisdcos.directory', 'A', `11.0.1.${i + 1}`));
  await d.snapshotConsumer().apply(snapshot(4, many));
  const plain = await udpAsk(ip(1), udp, query('many.marathon.l4lb.thisdcos.directory', A));
  t.ok(tc(plain) && plain.length <= 512, `TC at ${plain.length} bytes`);
  const edns = await udpAsk(ip(1), udp, query('many.marathon.l4lb.thisdcos.directory', A, { edns: 4096 }));
  t.notOk(tc(edns), 'fits in 4096');
  t.equal(ancount(edns), 50);
  t.equal(edns.readUInt16BE(10), 1, 'OPT in the answer');
  const small = await udpAsk(ip(1), udp, query('many.marathon.l4lb.thisdcos.directory', A, { edns: 600 }));
  t.ok(tc(small) && small.length <= 600, `TC at ${small.length} for a 600-byte client`);
  const [full] = await tcpAsk(ip(1), tcp, [query('many.marathon.l4lb.thisdcos.directory', A)]);
  t.equal(ancount(full!), 50);
});

t.test('zone file for standalone use', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sx-zone-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'zones'), `# comment\n${web} A 11.0.0.9\n_x._tcp.thisdcos.directory SRV 0 1 80 ${web}\n`);
  const ip = loopbackBlock();
  const { udp } = await startDispatcher(t, ip(1), { zone_file: join(dir, 'zones') });
  t.same(addresses(await udpAsk(ip(1), udp, query(web, A))), ['11.0.0.9']);
  t.equal(ancount(await udpAsk(ip(1), udp, query('_x._tcp.thisdcos.directory', SRV))), 1);
});
