// Upstream mesos-dns resolver_test.go (runHandlers table, truncation) on Answers, with our own fixture state.
import t from 'tap';
import dns2 from 'dns2';
import { Answers, type AnswerConfig } from '../answers.js';
import { generateRecords } from '../generator.js';
import { parseState } from '../state.js';
import { parseQuery, RRType, Flag } from '../../wire/index.js';
import { RecordSet } from '../recordset.js';
import { fakeState } from './fixture.js';

const { Packet } = dns2 as unknown as { Packet: any };

const cfg: AnswerConfig = {
  domain: 'mesos', ttl: 60, srvWeight: 1, soaMname: 'ns1.mesos', soaRname: 'root.ns1.mesos', soaSerial: 0,
  soaRefresh: 60, soaRetry: 600, soaExpire: 86400, recurseOn: false, setTruncateBit: true, edns0On: false,
};

function records(): RecordSet {
  return generateRecords(parseState(fakeState()), {
    domain: 'mesos', soaMname: 'mesos-dns.mesos.', listener: '127.0.0.1', masters: ['144.76.157.37:5050'],
    ipSources: ['netinfo', 'docker', 'mesos', 'host'], enforceRFC952: true,
  });
}

export function query(name: string, type: number, id = 0x4242): Buffer {
  const parts: Buffer[] = [Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of name.split('.').filter(Boolean)) parts.push(Buffer.from([l.length]), Buffer.from(l));
  parts.push(Buffer.from([0, type >> 8, type & 0xff, 0, 1]));
  return Buffer.concat(parts);
}

function ask(a: Answers, name: string, type: number, udp = true) {
  const q = query(name, type);
  const { msg } = a.respond(q, parseQuery(q), udp);
  return { msg, p: Packet.parse(msg) };
}

const set = (rrs: any[], f: (r: any) => string) => rrs.map(f).sort();

t.test('runHandlers table', async (t) => {
  const a = new Answers(records(), cfg);
  const soa = (r: any) => `${r.name} ${r.ttl} SOA ${r.primary} ${r.admin} ${r.refresh} ${r.retry} ${r.expiration} ${r.minimum}`;
  const rows: { q: [string, number]; rcode: number; aa?: boolean; answer: string[]; ns: string[]; extra: string[] }[] = [
    { q: ['chronos.marathon.mesos', RRType.A], rcode: 0, answer: ['chronos.marathon.mesos 60 1.2.3.11'], ns: [], extra: [] },
    { q: ['cHrOnOs.MARATHON.mesoS', RRType.A], rcode: 0, answer: ['chronos.marathon.mesos 60 1.2.3.11'], ns: [], extra: [] },
    { q: ['toy-store.ipv6-framework.mesos', RRType.AAAA], rcode: 0, answer: ['toy-store.ipv6-framework.mesos 60 fd01:b::1:8000:2'], ns: [], extra: [] },
    {
      q: ['_liquor-store._tcp.marathon.mesos', RRType.SRV], rcode: 0,
      answer: ['_liquor-store._tcp.marathon.mesos 60 0 1 443 liquor-store-4dfjd-0.marathon.mesos', '_liquor-store._tcp.marathon.mesos 60 0 1 443 liquor-store-zasmd-1.marathon.mesos', '_liquor-store._tcp.marathon.mesos 60 0 1 80 liquor-store-4dfjd-0.marathon.mesos', '_liquor-store._tcp.marathon.mesos 60 0 1 80 liquor-store-zasmd-1.marathon.mesos'],
      ns: [], extra: ['liquor-store-4dfjd-0.marathon.mesos 60 10.3.0.1', 'liquor-store-zasmd-1.marathon.mesos 60 10.3.0.2'],
    },
    {
      q: ['_car-store._udp.marathon.mesos', RRType.SRV], rcode: 0,
      answer: ['_car-store._udp.marathon.mesos 60 0 1 31364 car-store-zinaz-0.marathon.slave.mesos', '_car-store._udp.marathon.mesos 60 0 1 31365 car-store-zinaz-0.marathon.slave.mesos'],
      ns: [], extra: ['car-store-zinaz-0.marathon.slave.mesos 60 1.2.3.11'],
    },
    { q: ['_car-store._udp.marathon.mesos', RRType.A], rcode: 0, answer: [], ns: ['_car-store._udp.marathon.mesos 60 SOA ns1.mesos root.ns1.mesos 60 600 86400 60'], extra: [] },
    { q: ['non-existing.mesos', RRType.SOA], rcode: 0, answer: [], ns: ['non-existing.mesos 60 SOA ns1.mesos root.ns1.mesos 60 600 86400 60'], extra: [] },
    { q: ['non-existing.mesos', RRType.NS], rcode: 0, answer: [], ns: ['non-existing.mesos 60 NS ns1.mesos'], extra: [] },
    { q: ['missing.mesos', RRType.A], rcode: 3, answer: [], ns: ['missing.mesos 60 SOA ns1.mesos root.ns1.mesos 60 600 86400 60'], extra: [] },
    { q: ['chronos.marathon.mesos', RRType.AAAA], rcode: 0, answer: [], ns: ['chronos.marathon.mesos 60 SOA ns1.mesos root.ns1.mesos 60 600 86400 60'], extra: [] },
    { q: ['missing.mesos', RRType.AAAA], rcode: 3, answer: [], ns: ['missing.mesos 60 SOA ns1.mesos root.ns1.mesos 60 600 86400 60'], extra: [] },
    { q: ['missing.mesos', RRType.SRV], rcode: 0, answer: [], ns: [], extra: [] },
  ];
  for (const r of rows) {
    const { p } = ask(a, r.q[0], r.q[1]);
    const name = `${r.q[0]} ${r.q[1]}`;
    t.equal(p.header.aa, 1, `${name} aa`);
    t.equal(p.header.rcode, r.rcode, `${name} rcode`);
    t.equal(p.header.ra, 0, `${name} RA follows RecurseOn=false`);
    const ans = set(p.answers, (x) => (x.type === 33 ? `${x.name} ${x.ttl} ${x.priority} ${x.weight} ${x.port} ${x.target}` : `${x.name} ${x.ttl} ${x.address}`));
    t.same(ans, [...r.answer].sort(), `${name} answer`);
    t.same(set(p.authorities, (x) => (x.type === 6 ? soa(x).replace(/^(\S+) /, `${x.name.toLowerCase()} `) : `${x.name} ${x.ttl} NS ${x.ns}`)), r.ns, `${name} authority`);
    t.same(set(p.additionals, (x) => `${x.name} ${x.ttl} ${x.address}`), [...r.extra].sort(), `${name} additional`);
  }
  // the question echoes the client's case, SOA/SRV owners follow it; A owners are lower-case
  const { p } = ask(a, 'MiSsInG.mesos', RRType.A);
  t.equal(p.questions[0].name, 'MiSsInG.mesos');
  t.equal(p.authorities[0].name, 'MiSsInG.mesos');
});

t.test('answers are shuffled across queries', async (t) => {
  const a = new Answers(records(), cfg);
  const orders = new Set<string>();
  for (let i = 0; i < 40; i++) orders.add(ask(a, 'slave.mesos', RRType.A).p.answers.map((x: any) => x.address).join(','));
  t.ok(orders.size > 1, `saw ${orders.size} orders`);
});

t.test('ANY, wildcard cleaning, ID patching', async (t) => {
  const a = new Answers(records(), cfg);
  const any = ask(a, 'leader.mesos', RRType.ANY).p;
  t.same(any.answers.map((x: any) => x.address), ['1.2.3.4']);
  t.same(set(any.authorities, (x) => String(x.type)), ['2', '6']);
  const w = ask(a, 'chronos.*.marathon.mesos', RRType.A).p;
  t.same(w.answers.map((x: any) => x.address), ['1.2.3.11'], 'bob.*.mesos -> bob.mesos');
  const q = query('chronos.marathon.mesos', RRType.A, 777);
  t.equal(a.respond(q, parseQuery(q), true).msg.readUInt16BE(0), 777);
});

t.test('truncation: 512 bytes over UDP with TC, full over TCP; SetTruncateBit false clears TC', async (t) => {
  const rs = new RecordSet();
  for (let i = 0; i < 100; i++) rs.add('A', 'big.mesos', `10.1.0.${i}`);
  const a = new Answers(rs, cfg);
  const udp = ask(a, 'big.mesos', RRType.A, true);
  t.ok(udp.msg.length <= 512);
  t.ok(udp.msg.readUInt16BE(2) & Flag.TC, 'TC set');
  t.ok(udp.p.answers.length < 100);
  const tcp = ask(a, 'big.mesos', RRType.A, false);
  t.equal(tcp.p.answers.length, 100);
  t.notOk(tcp.msg.readUInt16BE(2) & Flag.TC);
  const noTC = new Answers(rs, { ...cfg, setTruncateBit: false });
  t.notOk(ask(noTC, 'big.mesos', RRType.A, true).msg.readUInt16BE(2) & Flag.TC);
  const e = new Answers(rs, { ...cfg, edns0On: true });
  const q = Buffer.concat([query('big.mesos', RRType.A), Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0])]);
  q.writeUInt16BE(1, 10);
  const big = e.respond(q, parseQuery(q), true).msg;
  t.equal(Packet.parse(big).answers.length, 100, 'EDNS0 4096 fits all');
  t.equal(big.readUInt16BE(10), 1, 'OPT returned');
  const off = new Answers(rs, cfg).respond(q, parseQuery(q), true).msg;
  t.ok(off.length <= 512, 'EDNS0 option off by default: still 512');
});
