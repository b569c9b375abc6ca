// The speed paths (issue 3 "Speed") must not change behaviour: sliced generation equals the
// synchronous one, shared UDP replies equal the copied ones, permuted answer variants are the
// same records, the port parser's fast path equals its slow path, and a burst of UDP queries for
// one name gets every reply with its own ID and question.
import t from 'tap';
import dgram from 'node:dgram';
import dns2 from 'dns2';
import { Answers, type AnswerConfig } from '../answers.js';
import { generateRecords, generateRecordsAsync, taskHash, type GeneratorConfig } from '../generator.js';
import { hashString } from '../hash.js';
import { RecordSet } from '../recordset.js';
import { parsePorts, parseState, parseStateAsync } from '../state.js';
import { parseQuery, RRType } from '../../wire/index.js';
import { bigState } from './big-state.js';
import { fakeState } from './fixture.js';
import { startMesosDns } from './harness.js';

const { Packet } = dns2 as unknown as { Packet: any };

function query(name: string, type: number, id = 0x4242): Buffer {
  const parts: Buffer[] = [Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of name.split('.').filter(Boolean)) parts.push(Buffer.from([l.length]), Buffer.from(l));
  parts.push(Buffer.from([0, type >> 8, type & 0xff, 0, 1]));
  return Buffer.concat(parts);
}

const cfg: AnswerConfig = {
  domain: 'mesos', ttl: 60, srvWeight: 1, soaMname: 'ns1.mesos', soaRname: 'root.ns1.mesos', soaSerial: 0,
  soaRefresh: 60, soaRetry: 600, soaExpire: 86400, recurseOn: false, setTruncateBit: true, edns0On: false,
};

const gens: GeneratorConfig[] = [
  { domain: 'mesos', soaMname: 'mesos-dns.mesos.', listener: '127.0.0.1', masters: ['144.76.157.37:5050'], ipSources: [], enforceRFC952: true },
  { domain: 'mesos', soaMname: 'mesos-dns.mesos.', listener: '127.0.0.1', masters: ['144.76.157.37:5050'], ipSources: ['netinfo', 'mesos', 'host'], enforceRFC952: false },
  { domain: 'Foo.COM', soaMname: 'ns1.foo.com', listener: '::1', masters: ['1.1.1.1:5050'], ipSources: ['docker', 'mesos', 'netinfo', 'host'], enforceRFC952: true },
];

/** Everything a record set shows, in order (Map keys, Set values, enumeration, skipped names). */
function dump(rs: RecordSet): unknown {
  const m = (x: Map<string, Set<string>>) => [...x].map(([k, v]) => [k, [...v]]);
  return { a: m(rs.a), aaaa: m(rs.aaaa), srv: m(rs.srv), enumerate: rs.frameworks, skipped: rs.skipped };
}

function fixture(): Record<string, unknown> {
  const raw = fakeState();
  raw.leader = 'master@144.76.157.37:5050';
  return raw;
}

t.test('sliced parse + generate equals the synchronous one, in every detail', async (t) => {
  const states: [string, () => unknown][] = [
    ['fixture state', fixture],
    ['3000 tasks', () => JSON.parse(JSON.stringify(bigState(3000, 300)))],
  ];
  for (const [label, state] of states) {
    for (const [i, g] of gens.entries()) {
      const want = dump(generateRecords(parseState(state()), g));
      const got = dump(await generateRecordsAsync(await parseStateAsync(state(), 0.01), g, {}, 0.01));
      t.same(got, want, `${label}, config ${i}`);
    }
  }
  await t.rejects(parseStateAsync({ frameworks: [] }), { name: 'StateError' }, 'bad state still rejected');
});

t.test('enumeration is built lazily but shows every task record once', async (t) => {
  const rs = generateRecords(parseState(fixture()), gens[1]!);
  const recs = rs.frameworks.flatMap((f) => f.tasks.flatMap((k) => k.records));
  t.ok(recs.length > 20, `${recs.length} task records`);
  for (const r of recs) {
    const bare = r.name.replace(/\.$/, '');
    const value = r.rtype === 'SRV' ? r.host.replace(/\.:(\d+)$/, ':$1') : r.host;
    t.ok(rs.map(r.rtype).get(bare)?.has(value), `${r.rtype} ${r.name} ${r.host} is in the record set`);
  }
  t.equal(rs.frameworks, rs.frameworks, 'built once');
});

t.test('taskHash equals hashString', async (t) => {
  for (const id of ['', 'a', 'chronos.8e6a2b8e-0d06-11e5-87cf-2a1e0f7d2fdb', 'x'.repeat(300), 'ünïcode-task']) t.equal(taskHash(id), hashString(id), id);
  t.equal(taskHash('a'), taskHash('a'), 'memoized value stable');
});

t.test('port ranges: fast path and fallback agree', async (t) => {
  const rows: [string, string[]][] = [
    ['[]', []], ['[31000-31000]', ['31000']], ['[1-2, 5-6]', ['1', '2', '5', '6']], ['[1-2,5-6]', ['1', '2', '5', '6']],
    ['[5-3]', []], ['[65535-65536]', []], [' [1-2] ', ['1', '2']], ['[1-2-3]', ['1', '2']], ['[a-b, 3-3]', ['3']],
    ['[0001-0002]', ['1', '2']], ['[1-2,]', ['1', '2']], ['[1 -2]', []], ['', []], ['[', []],
  ];
  for (const [input, want] of rows) t.same(parsePorts(input), want, JSON.stringify(input));
});

t.test('shared UDP replies: patched in place, equal to copied replies, detachable', async (t) => {
  const rs = new RecordSet();
  for (let i = 1; i <= 3; i++) rs.add('A', 'x.mesos', `10.0.0.${i}`);
  const a = new Answers(rs, cfg);
  const copy = new Answers(rs, cfg);
  const q1 = query('X.mesos', RRType.A, 0x1111);
  const r1 = a.shared(q1, parseQuery(q1))!;
  t.equal(r1.readUInt16BE(0), 0x1111);
  t.equal(r1.toString('latin1', 13, 14), 'X', 'question echoes the client case');
  const want = copy.respond(q1, parseQuery(q1), true).msg;
  t.same([...r1], [...want], 'same bytes as the copying path');
  // rotate through every variant back to the first: same buffer object, patched again
  const seen = new Set<Buffer>([r1]);
  let again: Buffer | undefined;
  for (let i = 0; i < 6; i++) {
    const q = query('X.mesos', RRType.A, 0x2000 + i); // the same spelling: one cache entry
    again = a.shared(q, parseQuery(q))!;
    t.equal(again.readUInt16BE(0), 0x2000 + i);
    seen.add(again);
  }
  t.equal(seen.size, 6, '6 variants (3!) rotate');
  const q3 = query('x.mesos', RRType.A, 0x3333);
  const before = a.shared(q3, parseQuery(q3))!;
  const bytes = Buffer.from(before);
  a.detachLast();
  for (let i = 0; i < 6; i++) {
    const q = query('x.mesos', RRType.A, 0x4000 + i);
    t.not(a.shared(q, parseQuery(q)), before, 'a detached buffer is never handed out again');
  }
  t.same([...before], [...bytes], 'and is never patched again');
  const wild = query('x.*.mesos', RRType.A);
  const w = Packet.parse(a.shared(wild, parseQuery(wild))!);
  t.equal(w.questions[0].name, 'x.*.mesos', 'wildcards are cached too: the question as asked');
  t.same(w.answers.map((r: any) => r.name), ['x.mesos', 'x.mesos', 'x.mesos'], 'A owners without the wildcard');
});

t.test('permuted answer variants carry the same records, also when truncated', async (t) => {
  const rs = new RecordSet();
  for (let i = 1; i <= 40; i++) rs.add('A', 'big.mesos', `10.0.1.${i}`);
  for (let i = 1; i <= 4; i++) rs.add('AAAA', 'six.mesos', `fd00::${i}`);
  const a = new Answers(rs, cfg);
  const all = [...rs.a.get('big.mesos')!].sort();
  const orders = new Set<string>();
  for (let i = 0; i < 16; i++) {
    const q = query('big.mesos', RRType.A, i);
    const tcp = Packet.parse(a.respond(q, parseQuery(q), false).msg);
    const ips = tcp.answers.map((r: any) => r.address);
    t.same([...ips].sort(), all, 'TCP: all 40 addresses, once each');
    t.ok(tcp.answers.every((r: any) => r.name === 'big.mesos' && r.ttl === 60), 'owner and TTL kept');
    orders.add(ips.join(','));
    const udpMsg = a.respond(q, parseQuery(q), true).msg;
    const udp = Packet.parse(udpMsg);
    t.ok(udpMsg.length <= 512 && (udpMsg[2]! & 0x02) !== 0, 'UDP: cut to 512 bytes with TC');
    const kept = udp.answers.map((r: any) => r.address);
    t.equal(new Set(kept).size, kept.length, 'UDP: no address twice');
    t.ok(kept.every((ip: string) => all.includes(ip)), 'UDP: only real addresses');
  }
  t.ok(orders.size > 1, `${orders.size} different orders`);
  const q6 = query('six.mesos', RRType.AAAA);
  const six = Packet.parse(a.respond(q6, parseQuery(q6), true).msg);
  t.same(six.answers.map((r: any) => r.address).sort(), ['fd00::1', 'fd00::2', 'fd00::3', 'fd00::4']);
});

t.test('a burst of UDP queries for one name: every reply has its own ID and question', async (t) => {
  const { ip, port } = await startMesosDns(t);
  const s = dgram.createSocket('udp4');
  t.teardown(() => s.close());
  const N = 3000;
  const BATCH = 100; // a socket receive buffer holds a few hundred small datagrams
  const got = new Map<number, Buffer>();
  let wake = () => {};
  s.on('message', (m) => {
    got.set(m.readUInt16BE(0), m);
    wake();
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const names = ['chronos.marathon.mesos', 'CHRONOS.marathon.mesos', 'slave.MESOS'];
  for (let start = 0; start < N; start += BATCH) {
    for (let id = start; id < start + BATCH; id++) s.send(query(names[id % 3]!, RRType.A, id), port, ip);
    const deadline = Date.now() + 2000;
    while (got.size < start + BATCH && Date.now() < deadline) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50).unref();
      });
    }
  }
  t.ok(got.size >= N * 0.99, `${got.size} of ${N} answered (UDP on loopback may drop a few)`);
  let bad = 0;
  for (const [id, m] of got) {
    const p = Packet.parse(m);
    if (p.questions[0]?.name !== names[id % 3] || p.answers.length === 0) bad++;
  }
  t.equal(bad, 0, 'every reply matches its own query');
});
