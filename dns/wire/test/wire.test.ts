import t from 'tap';
import dns2 from 'dns2';
import { MessageBuilder, MalformedPacketError, Flag, RRType, parseQuery, patchReply, truncateMessage, errorReply, readTcpFrames, splitName } from '../index.js';

const { Packet } = dns2 as unknown as { Packet: any };

function query(name: string, type: number, opts: { id?: number; rd?: boolean; edns?: number } = {}): Buffer {
  const labels = name.split('.').filter(Boolean);
  const parts: Buffer[] = [Buffer.from([(opts.id ?? 0x1234) >> 8, (opts.id ?? 0x1234) & 0xff, opts.rd ? 1 : 0, 0, 0, 1, 0, 0, 0, 0, 0, opts.edns ? 1 : 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'latin1'));
  parts.push(Buffer.from([0, type >> 8, type & 0xff, 0, 1]));
  if (opts.edns) parts.push(Buffer.from([0, 0, 41, opts.edns >> 8, opts.edns & 0xff, 0, 0, 0x80, 0, 0, 0]));
  return Buffer.concat(parts);
}

t.test('parseQuery fields', async (t) => {
  const rows = [
    { q: query('App.Marathon.MESOS', RRType.A, { id: 7, rd: true }), name: 'app.marathon.mesos', type: 1, id: 7, edns: false, size: 0 },
    { q: query('x.mesos', RRType.SRV, { edns: 4096 }), name: 'x.mesos', type: 33, id: 0x1234, edns: true, size: 4096 },
    { q: query('', RRType.NS), name: '', type: 2, id: 0x1234, edns: false, size: 0 },
  ];
  for (const r of rows) {
    const p = parseQuery(r.q);
    t.equal(p.qname, r.name);
    t.equal(p.qtype, r.type);
    t.equal(p.id, r.id);
    t.equal(p.edns, r.edns);
    t.equal(p.ednsSize, r.size);
    t.equal(p.questionEnd, 12 + (r.name ? r.name.length + 2 : 1) + 4);
  }
  t.equal(parseQuery(query('a.b', 1, { edns: 1232 })).ednsDo, true);
});

t.test('parseQuery rejects malformed packets with a typed error', async (t) => {
  const good = query('a.mesos', 1);
  const bad: [string, Buffer][] = [
    ['short header', Buffer.from([1, 2, 3])],
    ['response bit', Buffer.from([...good.subarray(0, 2), 0x80, ...good.subarray(3)])],
    ['two questions', Buffer.from([...good.subarray(0, 5), 2, ...good.subarray(6)])],
    ['truncated name', good.subarray(0, 15)],
    ['no qtype', good.subarray(0, good.length - 3)],
    ['forward pointer', Buffer.from([...good.subarray(0, 12), 0xc0, 0x20, 0, 1, 0, 1])],
    ['self pointer', Buffer.from([...good.subarray(0, 12), 0xc0, 12, 0, 1, 0, 1])],
    ['label type 0x40', Buffer.from([...good.subarray(0, 12), 0x41, 0, 0, 1, 0, 1])],
    ['arcount past end', Buffer.from([...good.subarray(0, 11), 1, ...good.subarray(12)])],
    ['name over 255', query(Array(60).fill('abcd').join('.'), 1)],
  ];
  for (const [why, b] of bad) {
    t.throws(() => parseQuery(b), MalformedPacketError, why);
  }
});

t.test('builder output decodes with an independent decoder, with compression', async (t) => {
  const b = new MessageBuilder({ id: 99, flags: Flag.AA | Flag.RD });
  b.question('_app._tcp.marathon.mesos', RRType.SRV);
  b.add('answer', { type: 'SRV', name: '_app._tcp.marathon.mesos', ttl: 60, priority: 0, weight: 1, port: 80, target: 'app-abcde-0.marathon.mesos' });
  b.add('answer', { type: 'SRV', name: '_app._tcp.marathon.mesos', ttl: 60, priority: 0, weight: 1, port: 443, target: 'app-abcde-0.marathon.mesos' });
  b.add('authority', { type: 'SOA', name: 'mesos', ttl: 60, mname: 'ns1.mesos', rname: 'root.ns1.mesos', serial: 5, refresh: 60, retry: 600, expire: 86400, minimum: 60 });
  b.add('additional', { type: 'A', name: 'app-abcde-0.marathon.mesos', ttl: 60, address: '10.0.0.1' });
  b.add('additional', { type: 'AAAA', name: 'app-abcde-0.marathon.mesos', ttl: 60, address: 'fd01:b::1:8000:2' });
  b.add('additional', { type: 'TXT', name: 'txt.mesos', ttl: 5, texts: ['hello', 'world'] });
  b.add('additional', { type: 'CNAME', name: 'c.mesos', ttl: 5, target: 'app-abcde-0.marathon.mesos' });
  b.add('additional', { type: 'PTR', name: '1.0.0.10.in-addr.arpa', ttl: 5, target: 'app.mesos' });
  b.add('additional', { type: 'NS', name: 'mesos', ttl: 5, target: 'ns1.mesos' });
  const msg = b.finish();
  const p = Packet.parse(msg);
  t.equal(p.header.id, 99);
  t.equal(p.header.aa, 1);
  t.equal(p.header.qr, 1);
  t.equal(p.answers.length, 2);
  t.equal(p.answers[1].port, 443);
  t.equal(p.answers[1].target, 'app-abcde-0.marathon.mesos');
  t.equal(p.authorities[0].primary, 'ns1.mesos');
  t.equal(p.authorities[0].expiration, 86400);
  t.equal(p.additionals[0].address, '10.0.0.1');
  t.equal(p.additionals[1].address, 'fd01:b::1:8000:2');
  t.equal(p.additionals[3].domain, 'app-abcde-0.marathon.mesos');
  t.equal(p.additionals[4].domain, 'app.mesos');
  t.equal(p.additionals[5].ns, 'ns1.mesos');
  t.ok(msg.length < 340, `compressed size ${msg.length}`);
});

t.test('truncation: additional first, then answers from the end, TC set', async (t) => {
  const b = new MessageBuilder({ id: 1, flags: Flag.AA });
  b.question('many.mesos', RRType.A);
  for (let i = 0; i < 60; i++) b.add('answer', { type: 'A', name: 'many.mesos', ttl: 60, address: `10.0.0.${i}` });
  b.add('additional', { type: 'A', name: 'x.mesos', ttl: 60, address: '10.9.9.9' });
  const full = b.finish();
  t.equal(full.readUInt16BE(6), 60);
  const cut = b.finish(512);
  t.ok(cut.length <= 512);
  t.equal(cut.readUInt16BE(2) & Flag.TC, Flag.TC);
  t.equal(cut.readUInt16BE(10), 0);
  const n = cut.readUInt16BE(6);
  t.equal(n, Packet.parse(cut).answers.length);
  t.ok(n > 20 && n < 60);
  const noTC = b.finish(512, false);
  t.equal(noTC.readUInt16BE(2) & Flag.TC, 0);
  const generic = truncateMessage(full, 512);
  t.same(generic, cut, 'generic cut equals builder cut');
});

t.test('patchReply copies id, RD and question case', async (t) => {
  const b = new MessageBuilder({ id: 0, flags: Flag.AA });
  b.question('app.mesos', RRType.A, 1, { compress: false });
  b.add('answer', { type: 'A', name: 'app.mesos', ttl: 60, address: '1.2.3.4' });
  const resp = b.finish();
  const q = query('APP.mesos', 1, { id: 4242, rd: true });
  t.ok(patchReply(resp, q, parseQuery(q)));
  const p = Packet.parse(resp);
  t.equal(p.header.id, 4242);
  t.equal(p.header.rd, 1);
  t.equal(p.questions[0].name, 'APP.mesos');
  t.equal(p.answers[0].name, 'app.mesos', 'owner stays lower-case');
});

t.test('errorReply and TCP framing', async (t) => {
  const q = query('x.y', 1, { id: 5 });
  const r = errorReply(q, parseQuery(q), 5);
  t.equal(r.readUInt16BE(0), 5);
  t.equal(r.readUInt16BE(2) & 0xf, 5);
  t.equal(Packet.parse(r).questions[0].name, 'x.y');
  const frames: Buffer[] = [];
  const rd = readTcpFrames((m) => frames.push(m));
  const framed = Buffer.concat([Buffer.from([0, q.length]), q, Buffer.from([0, q.length]), q.subarray(0, 3)]);
  rd.push(framed.subarray(0, 5));
  rd.push(framed.subarray(5));
  t.equal(frames.length, 1);
  t.equal(rd.pending(), 5);
});

t.test('splitName reads the escapes parseQuery writes: an escaped name encodes back to its bytes', async (t) => {
  const rows: [string, string[]][] = [
    ['a.b.mesos', ['a', 'b', 'mesos']],
    ['a.b.mesos.', ['a', 'b', 'mesos']],
    ['maratho\\..mesos', ['maratho.', 'mesos']],
    ['a\\\\b.mesos', ['a\\b', 'mesos']],
    ['a\\032b\\255.mesos', ['a b\xff', 'mesos']],
  ];
  for (const [name, labels] of rows) t.same(splitName(name), labels, name);
  t.throws(() => splitName('a\\300.mesos'), /bad escape/);
  const wire = Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x61, 0x2e, 0x62, 1, 0x63, 5, 0x6d, 0x65, 0x73, 0x6f, 0x73, 0, 0, 1, 0, 1]);
  const q = parseQuery(wire);
  t.equal(q.qname, 'a\\.b.c.mesos');
  const b = new MessageBuilder({ id: 0x1234, flags: 0x0100 });
  b.question(q.qname, 1);
  b.add('authority', { type: 'A', name: 'a.b.c.mesos', ttl: 1, address: '1.2.3.4' });
  const out = b.finish();
  t.same(out.subarray(12, wire.length), wire.subarray(12), 'the question encodes to the bytes it came from');
  t.not(out.readUInt16BE(wire.length), 0xc00c, 'a.b.c.mesos (4 labels) is not compressed to the 3-label a\\.b.c.mesos');
});
