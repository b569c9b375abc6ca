// Differential test against mesos-dns v0.7's bytes (issue #27): the real server on loopback, fed
// our own state fixture (fixtures/reference-state.json: 30 agents, marathon apps web, six and
// crowd), asked over UDP and TCP. Every expectation is written out below from the reference's
// rules (resolver.go HandleMesos/reply/truncate, miekg/dns v1.0.15 packing) and encoded by
// miekg-pack.ts, an encoder independent of ours. Answers are kept in record order (the reference
// shuffles them; the shuffle is injected as the identity so the bytes are deterministic).
import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import dns2 from 'dns2';
import { createRegistry } from '../../../common/metrics.js';
import { freePort, loopbackBlock } from '../../../test/lib/index.js';
import { parseConfig } from '../config.js';
import { MesosDns } from '../mesosdns.js';
import { estimateLen, referenceCut } from '../reference.js';
import type { ResourceRecord } from '../../wire/index.js';
import { pack, type Rr } from './miekg-pack.js';

const { Packet } = dns2 as unknown as { Packet: any };
const T = { A: 1, NS: 2, SOA: 6, AAAA: 28, SRV: 33, ANY: 255 } as const;

function query(name: string, type: number, id: number): Buffer {
  const parts: Buffer[] = [Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of name.split('.').filter(Boolean)) parts.push(Buffer.from([l.length]), Buffer.from(l, 'latin1'));
  parts.push(Buffer.from([0, type >> 8, type & 0xff, 0, 1]));
  return Buffer.concat(parts);
}

async function start(t: Test) {
  const ip = loopbackBlock()(1);
  const port = await freePort(ip);
  const { config } = parseConfig({ Masters: ['127.0.0.1:5050'], Listener: ip, Port: port, HttpOn: false, ExternalOn: false });
  const dns = new MesosDns({ config, registry: createRegistry(), shuffle: (a) => a });
  await dns.start();
  t.teardown(() => dns.stop());
  const state = JSON.parse(readFileSync(new URL('./fixtures/reference-state.json', import.meta.url), 'utf8')) as unknown;
  if (!(await dns.setState(state))) throw new Error('fixture state rejected');
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => udp.close());
  const overUdp = (q: Buffer) =>
    new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no UDP reply in 3 s')), 3000);
      udp.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      udp.send(q, port, ip);
    });
  const overTcp = (q: Buffer) =>
    new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(port, ip);
      let got = Buffer.alloc(0);
      const timer = setTimeout(() => (s.destroy(), reject(new Error('no TCP reply in 3 s'))), 3000);
      s.on('connect', () => s.write(Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q])));
      s.on('data', (d) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
          clearTimeout(timer);
          s.destroy();
          resolve(got.subarray(2, 2 + got.readUInt16BE(0)));
        }
      });
      s.on('error', reject);
    });
  return { dns, overUdp, overTcp };
}

const TTL = 60;
const a = (name: string, address: string): Rr => ({ type: 'A', name, ttl: TTL, address });
const aaaa = (name: string, address: string): Rr => ({ type: 'AAAA', name, ttl: TTL, address });
const srv = (name: string, port: number, target: string): Rr => ({ type: 'SRV', name, ttl: TTL, port, weight: 1, target });
const ns = (name: string): Rr => ({ type: 'NS', name, ttl: TTL, target: 'ns1.mesos.' });
const soaOf = (serial: number) => (name: string): Rr => ({ type: 'SOA', name, ttl: TTL, mname: 'ns1.mesos.', rname: 'root.ns1.mesos.', serial, refresh: 60, retry: 600, expire: 86400, minimum: TTL });

// Flags of every reply: QR, AA, RD copied from the query (set), RA = RecurseOn (default true).
const BASE = 0x8000 | 0x0400 | 0x0100 | 0x0080;
const TC = 0x0200;
const NXDOMAIN = 3;

const W0 = 'web-xqj8p-s0.marathon.slave.mesos';
const W1 = 'web-isgj8-s1.marathon.slave.mesos';
const SIX = 'six-4b1ha-s2.marathon.slave.mesos';
const slaves = Array.from({ length: 30 }, (_, i) => `10.20.0.${i + 1}`);

interface Row {
  q: string;
  type: number;
  rcode?: number;
  an?: Rr[];
  ns?: Rr[];
  ar?: Rr[];
  /** Answers kept over UDP when the reference cuts (additional records are then all dropped, TC set). */
  udpAnswers?: number;
}

t.test('mesos-dns v0.7 bytes over UDP and TCP', async (t) => {
  const { dns, overUdp, overTcp } = await start(t);
  const serial = Packet.parse(await overUdp(query('mesos', T.SOA, 1))).authorities[0].serial as number;
  const soa = soaOf(serial);
  // The fixture's records, in the order the generator adds them (the order the answers keep here).
  const rs = dns.records()!;
  t.same([...rs.a.get('slave.mesos')!], slaves, 'fixture: 30 agents');
  t.same([...rs.srv.get('_web._tcp.marathon.mesos')!], [`${W0}:31000`, `${W0}:31001`, `${W1}:31000`, `${W1}:31001`], 'fixture: web SRV');
  const crowd = [...rs.srv.get('_crowd._tcp.marathon.mesos')!].map((v) => v.split(':')[0]!);
  t.equal(crowd.length, 24, 'fixture: 24 crowd tasks');
  const webSrv = (owner: string) => [srv(owner, 31000, W0), srv(owner, 31001, W0), srv(owner, 31000, W1), srv(owner, 31001, W1)];
  const webExtra = [a(W0, '10.20.0.1'), a(W1, '10.20.0.2')];
  // UDP cut of the crowd SRV reply: over 512 by the estimate, so the additional records go; then
  // the most answers whose estimate stays under 512: header 12 + question 28+4, and per answer a
  // 2-byte owner pointer + 10 + 6 + the target written in full (the estimate never compresses
  // SRV targets, and neither does the packing, so here estimate = size).
  let est = 12 + '_crowd._tcp.marathon.mesos.'.length + 1 + 4;
  let keep = 0;
  while (keep < crowd.length && est + 18 + crowd[keep]!.length + 2 < 512) est += 18 + crowd[keep++]!.length + 2;
  t.ok(keep > 0 && keep < 24, `crowd over UDP keeps ${keep} of 24`);

  const rows: Row[] = [
    // A owners are the name lower-cased: with a lower-case question the whole owner points at it.
    { q: 'web.marathon.mesos', type: T.A, an: [a('web.marathon.mesos', '10.20.0.1'), a('web.marathon.mesos', '10.20.0.2')] },
    // Mixed case: compression matches exact text only, so the first owner spells "web.marathon"
    // and points at the question's lower-case "mesos."; the second points at the first owner.
    { q: 'WEB.Marathon.mesos', type: T.A, an: [a('web.marathon.mesos', '10.20.0.1'), a('web.marathon.mesos', '10.20.0.2')] },
    { q: 'six.marathon.mesos', type: T.AAAA, an: [aaaa('six.marathon.mesos', 'fd00:20::6')] },
    // ANY: SRV, A, AAAA answers; SOA then NS in the authority section, owners = the question.
    { q: 'six.marathon.mesos', type: T.ANY, an: [a('six.marathon.mesos', '10.30.0.6'), aaaa('six.marathon.mesos', 'fd00:20::6')], ns: [soa('six.marathon.mesos'), ns('six.marathon.mesos')] },
    { q: 'Six.Marathon.MESOS', type: T.ANY, an: [a('six.marathon.mesos', '10.30.0.6'), aaaa('six.marathon.mesos', 'fd00:20::6')], ns: [soa('Six.Marathon.MESOS'), ns('Six.Marathon.MESOS')] },
    // SOA/NS: owner as asked; "ns1.mesos." is lower case and only points at a lower-case "mesos.".
    { q: 'mesos', type: T.SOA, ns: [soa('mesos')] },
    { q: 'MESOS', type: T.SOA, ns: [soa('MESOS')] },
    { q: 'mesos', type: T.NS, ns: [ns('mesos')] },
    { q: 'MeSoS', type: T.NS, ns: [ns('MeSoS')] },
    // SRV: owners exactly the question (case and wildcard kept), targets and additional A lower case.
    { q: '_web._tcp.marathon.mesos', type: T.SRV, an: webSrv('_web._tcp.marathon.mesos'), ar: webExtra },
    { q: '_WEB._TCP.MARATHON.MESOS', type: T.SRV, an: webSrv('_WEB._TCP.MARATHON.MESOS'), ar: webExtra },
    // Wildcards: every ".*" is removed for the lookup (cleanWild), wherever it stands.
    { q: '_web._tcp.*.marathon.mesos', type: T.SRV, an: webSrv('_web._tcp.*.marathon.mesos'), ar: webExtra },
    { q: '_web.*._tcp.marathon.mesos', type: T.SRV, an: webSrv('_web.*._tcp.marathon.mesos'), ar: webExtra },
    { q: '_web._tcp.marathon.*.mesos', type: T.SRV, an: webSrv('_web._tcp.marathon.*.mesos'), ar: webExtra },
    { q: '_Web.*._tcp.*.Marathon.mesos', type: T.SRV, an: webSrv('_Web.*._tcp.*.Marathon.mesos'), ar: webExtra },
    { q: 'web.*.marathon.mesos', type: T.A, an: [a('web.marathon.mesos', '10.20.0.1'), a('web.marathon.mesos', '10.20.0.2')] },
    { q: 'web.*.marathon.*.mesos', type: T.A, an: [a('web.marathon.mesos', '10.20.0.1'), a('web.marathon.mesos', '10.20.0.2')] },
    // A leading "*." is not ".*": no wildcard, an unknown name.
    { q: '*.marathon.mesos', type: T.A, rcode: NXDOMAIN, ns: [soa('*.marathon.mesos')] },
    { q: '_six._tcp.marathon.mesos', type: T.ANY, an: [srv('_six._tcp.marathon.mesos', 31002, SIX)], ns: [soa('_six._tcp.marathon.mesos'), ns('_six._tcp.marathon.mesos')], ar: [a(SIX, '10.20.0.3')] },
    { q: '_slave._tcp.mesos', type: T.SRV, an: [srv('_slave._tcp.mesos', 5051, 'slave.mesos')], ar: [a('slave.mesos', '10.20.0.1')] },
    // NXDOMAIN and NODATA: SOA in the authority section, owner as asked.
    { q: 'nope.marathon.mesos', type: T.A, rcode: NXDOMAIN, ns: [soa('nope.marathon.mesos')] },
    { q: 'NOPE.MESOS', type: T.AAAA, rcode: NXDOMAIN, ns: [soa('NOPE.MESOS')] },
    { q: 'nope.mesos', type: T.ANY, rcode: NXDOMAIN, ns: [soa('nope.mesos'), ns('nope.mesos'), soa('nope.mesos')] },
    { q: 'web.marathon.mesos', type: T.AAAA, ns: [soa('web.marathon.mesos')] },
    { q: '_web._tcp.marathon.mesos', type: T.A, ns: [soa('_web._tcp.marathon.mesos')] },
    { q: 'nope.mesos', type: T.SRV },
    // Truncation. 30 agents: 12 + question 17 + 30 x 16 (owner c0 0c) = 509 bytes: all fit.
    { q: 'slave.mesos', type: T.A, an: slaves.map((ip) => a('slave.mesos', ip)) },
    // "SLAVE.mesos": the first owner is 06 "slave" + pointer (8 bytes, 22 for the record):
    // 29 + 22 + 29 x 16 = 515 > 512, so the reference keeps 29 (499 bytes) and sets TC.
    { q: 'SLAVE.mesos', type: T.A, an: slaves.map((ip) => a('slave.mesos', ip)), udpAnswers: 29 },
    // "SLAVE.MESOS": the first owner is written in full (13 bytes): 29 + 27 + 29 x 16 = 520 -> 29.
    { q: 'SLAVE.MESOS', type: T.A, an: slaves.map((ip) => a('slave.mesos', ip)), udpAnswers: 29 },
    // ANY: the authority section is never cut, answers are. miekg's estimate: 29 + 30 x 16 + SOA 48
    // (mname and rname each counted as pointing at "mesos.", one byte too many) + NS 14 (its target
    // points at the SOA's mname) = 571; the fewest answers dropped to get under 512: 4 (507).
    { q: 'slave.mesos', type: T.ANY, an: slaves.map((ip) => a('slave.mesos', ip)), ns: [soa('slave.mesos'), ns('slave.mesos')], udpAnswers: 26 },
    {
      q: '_crowd._tcp.marathon.mesos', type: T.SRV, udpAnswers: keep,
      an: crowd.map((tg) => srv('_crowd._tcp.marathon.mesos', 32000, tg)), ar: crowd.map((tg, i) => a(tg, `10.20.0.${i + 1}`)),
    },
  ];
  let id = 100;
  for (const r of rows) {
    const label = `${r.q} ${Object.entries(T).find(([, v]) => v === r.type)![0]}`;
    const an = r.an ?? [];
    const nsr = r.ns ?? [];
    const ar = r.ar ?? [];
    const qq = { name: r.q, type: r.type };
    const q = query(r.q, r.type, ++id);
    const flags = BASE | (r.rcode ?? 0);
    const tcpWant = pack({ id, flags }, qq, an, nsr, ar);
    const udpWant = r.udpAnswers === undefined ? tcpWant : pack({ id, flags: flags | TC }, qq, an.slice(0, r.udpAnswers), nsr, []);
    const udp = await overUdp(q);
    t.equal(udp.toString('hex'), udpWant.toString('hex'), `${label} over UDP`);
    t.ok(udp.length <= 512, `${label} over UDP fits 512 bytes`);
    const tcp = await overTcp(q);
    t.equal(tcp.toString('hex'), tcpWant.toString('hex'), `${label} over TCP`);
  }
});

t.test("miekg's size estimate, which decides the cut, with its SOA quirks", async (t) => {
  const soa = (name: string): ResourceRecord => ({ type: 'SOA', name, ttl: 60, mname: 'ns1.mesos.', rname: 'root.ns1.mesos.', serial: 1, refresh: 60, retry: 600, expire: 86400, minimum: 60 });
  // "foo.mesos." NXDOMAIN: header 12 + question 11 + 4; SOA uncompressed 11 + 10 + 11 + 16 + 20 = 68,
  // owner found whole (-9), mname and rname both searched before mname is remembered: both hit
  // "mesos." (k = 6 + 6), counted as 1 - 12 = -11. 27 + 48 = 75, where the packed reply is 72.
  t.equal(estimateLen('foo.mesos.', [], [soa('foo.mesos')], []), 75);
  // "FOO.MESOS.": mname finds nothing, so the SOA's RDATA counts as uncompressed (only both hits count).
  t.equal(estimateLen('FOO.MESOS.', [], [soa('FOO.MESOS.')], []), 86);
  // Over the limit the additional records go first; then answers from the end until under it (strictly).
  const rrs: ResourceRecord[] = Array.from({ length: 31 }, (_, i) => ({ type: 'A', name: 'x.mesos', ttl: 1, address: `10.0.0.${i}` }));
  // 12 + 13 + n x 16: 31 -> 521; 30 -> 505 (< 512).
  t.same(referenceCut('x.mesos.', rrs, [], [], 512, true), { answers: 30, additional: false, tc: true });
  t.same(referenceCut('x.mesos.', rrs.slice(0, 30), [], [], 505, false), { answers: 30, additional: true, tc: false }, 'exactly the limit is not over it');
  t.same(referenceCut('x.mesos.', rrs.slice(0, 30), [], [], 504, true), { answers: 29, additional: false, tc: true });
  t.same(referenceCut('x.mesos.', rrs.slice(0, 29), [], rrs.slice(0, 1), 489, true), { answers: 28, additional: false, tc: true }, 'at the limit once the additional record is gone: one answer more goes');
});

t.test('the exact bytes of two replies, written out by hand', async (t) => {
  const { overUdp } = await start(t);
  // "MESOS SOA" (ID 0x0102): the reference writes ns1.mesos. in full and lower case (no lower-case
  // "mesos." earlier in the message), root.ns1.mesos. as "root" + a pointer to it (offset 35).
  const soa = await overUdp(query('MESOS', T.SOA, 0x0102));
  const serial = soa.subarray(soa.length - 20, soa.length - 16).toString('hex');
  t.equal(
    soa.toString('hex'),
    '0102' + '8580' + '0001000000010000' + '054d45534f5300' + '00060001' +
      'c00c' + '0006' + '0001' + '0000003c' + '0026' + '036e7331056d65736f7300' + '04726f6f74c023' +
      serial + '0000003c' + '00000258' + '00015180' + '0000003c',
  );
  // "web.marathon.mesos A": both owners are c0 0c, the pointer to the question.
  const web = await overUdp(query('web.marathon.mesos', T.A, 0x0203));
  t.equal(
    web.toString('hex'),
    '02038580000100020000000003776562086d61726174686f6e056d65736f730000010001' +
      'c00c00010001' + '0000003c0004' + '0a140001' + 'c00c00010001' + '0000003c0004' + '0a140002',
  );
});

t.test('a question with a byte miekg escapes: no part of it is a compression target', async (t) => {
  const { overUdp } = await start(t);
  // miekg keys the suffixes of "a\\(b.mesos." by a half-unescaped copy of the name, so "mesos." is
  // not among them: the SOA owner (the same text) is still c0 0c, but ns1.mesos. is written in full.
  const odd = await overUdp(query('a(b.mesos', T.A, 0x0304));
  const serial = (m: Buffer) => m.subarray(m.length - 20, m.length - 16).toString('hex');
  t.equal(
    odd.toString('hex'),
    '0304' + '8583' + '0001000000010000' + '03612862056d65736f7300' + '00010001' +
      'c00c' + '0006' + '0001' + '0000003c' + '0026' + '036e7331056d65736f7300' + '04726f6f74c027' +
      serial(odd) + '0000003c' + '00000258' + '00015180' + '0000003c',
  );
  // The same without the "(": ns1 points at the question's "mesos" (offset 15); rname points at ns1 (offset 38).
  const plain = await overUdp(query('ab.mesos', T.A, 0x0305));
  t.equal(
    plain.toString('hex'),
    '0305' + '8583' + '0001000000010000' + '026162056d65736f7300' + '00010001' +
      'c00c' + '0006' + '0001' + '0000003c' + '0021' + '036e7331c00f' + '04726f6f74c026' +
      serial(plain) + '0000003c' + '00000258' + '00015180' + '0000003c',
  );
});
