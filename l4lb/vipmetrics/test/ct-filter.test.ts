/**
 * The conntrack destroy-event socket filter (ct-filter.ts), run by a classic BPF interpreter
 * (cbpf.ts) on destroy events this kernel sent (fixtures/ct-events.json, written by
 * fixtures/capture-ct-events.ts): DNAT'd connections with the metrics mark, with other mark bits
 * only, without a mark; loopback TCP and UDP without NAT; IPv4 and IPv6. It keeps exactly the
 * events whose mark has the metrics bit. That the kernel accepts and applies it is the
 * ct-events-filter test's (a real namespace).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { destroyEventFilter, destroyEventProgram, encodeFilter } from '../ct-filter.js';
import { parseFlows } from '../ct-decode.js';
import { MARK_COUNTED, MARK_RETRANSMIT } from '../nft-counters.js';
import { runFilter } from './cbpf.js';

interface Captured {
  what: string;
  mark: number;
  hex: string;
}
const { events } = JSON.parse(readFileSync(new URL('./fixtures/ct-events.json', import.meta.url), 'utf8')) as { events: Captured[] };
const prog = destroyEventProgram(MARK_COUNTED);

t.test('the captured events are what the test needs', async (t) => {
  const marks = events.map((e) => e.mark);
  t.ok(marks.includes(MARK_COUNTED) && marks.includes(MARK_COUNTED | MARK_RETRANSMIT) && marks.includes(MARK_RETRANSMIT) && marks.includes(0), `marked, marked with another bit, another bit only, none (${marks.map((m) => m.toString(16))})`);
  for (const e of events) {
    const [f] = parseFlows(Buffer.from(e.hex, 'hex'));
    t.ok(f?.destroyed, `a destroy event: ${e.what}`);
    t.equal(f?.mark ?? 0, e.mark, 'its CTA_MARK as saved');
  }
  t.ok(events.some((e) => parseFlows(Buffer.from(e.hex, 'hex'))[0]?.family === 6 && e.mark), 'an IPv6 marked event');
});

t.test('keeps the events whose mark has the metrics bit, drops the others', async (t) => {
  for (const e of events) {
    const want = (e.mark & MARK_COUNTED) === MARK_COUNTED;
    const got = runFilter(prog, Buffer.from(e.hex, 'hex'));
    t.equal(got !== 0, want, `${want ? 'kept' : 'dropped'}: ${e.what}`);
    if (got) t.equal(got, 0xffffffff, 'the whole message');
  }
  t.equal(events.filter((e) => runFilter(prog, Buffer.from(e.hex, 'hex'))).length, 3, 'three of the eight (IPv4 counted, counted + retransmit, IPv6 counted)');
});

t.test('finds CTA_MARK wherever it stands among the attributes', async (t) => {
  const e = events.find((x) => x.mark === MARK_COUNTED)!;
  const msg = Buffer.from(e.hex, 'hex');
  // Move CTA_MARK (type 8) to the first place: the walk must not depend on the kernel's order.
  const attrs: Buffer[] = [];
  for (let at = 20; at + 4 <= msg.length; ) {
    const len = msg.readUInt16LE(at);
    attrs.push(msg.subarray(at, at + ((len + 3) & ~3)));
    at += (len + 3) & ~3;
  }
  const mark = attrs.findIndex((a) => (a.readUInt16LE(2) & 0x3fff) === 8);
  t.ok(mark > 0, `CTA_MARK is attribute ${mark} in the kernel's order`);
  const moved = Buffer.concat([msg.subarray(0, 20), attrs[mark]!, ...attrs.filter((_, i) => i !== mark)]);
  t.not(runFilter(prog, moved), 0, 'first: kept');
  // Its value changed to another bit: dropped (the value is read, not just the attribute's presence).
  const other = Buffer.from(moved);
  other.writeUInt32BE(MARK_RETRANSMIT, 24);
  t.equal(runFilter(prog, other), 0, 'another bit: dropped');
  // The same bytes with a CT_NEW type (an update, not a destroy): dropped.
  const update = Buffer.from(msg);
  update.writeUInt16LE((1 << 8) | 0, 4);
  t.equal(runFilter(prog, update), 0, 'not a destroy event: dropped');
  // Cut before CTA_MARK: no attribute found, dropped; a message too short for its header too.
  t.equal(runFilter(prog, msg.subarray(0, 20)), 0, 'no attributes: dropped');
  t.equal(runFilter(prog, msg.subarray(0, 3)), 0, 'shorter than a header: dropped');
});

t.test('other mark bits: the program tests all of them', async (t) => {
  const both = destroyEventProgram(MARK_COUNTED | MARK_RETRANSMIT);
  const kept = events.filter((e) => runFilter(both, Buffer.from(e.hex, 'hex'))).map((e) => e.mark);
  t.same(kept, [MARK_COUNTED | MARK_RETRANSMIT], 'only the event with both bits');
  t.throws(() => destroyEventProgram(0), /non-zero u32/);
  t.throws(() => destroyEventProgram(2 ** 32), /non-zero u32/);
});

t.test('encoded as struct sock_filter, host byte order', async (t) => {
  const b = destroyEventFilter(MARK_COUNTED);
  t.equal(b.length, prog.length * 8, '8 bytes an instruction');
  t.same(b, encodeFilter(prog));
  const le = endianness() === 'LE';
  prog.forEach((p, i) => {
    const o = i * 8;
    t.same([le ? b.readUInt16LE(o) : b.readUInt16BE(o), b[o + 2], b[o + 3], le ? b.readUInt32LE(o + 4) : b.readUInt32BE(o + 4)], [p.code, p.jt, p.jf, p.k], `instruction ${i}`);
  });
  // Every jump lands inside the program and the last instruction returns (what the kernel checks).
  prog.forEach((p, i) => {
    if ((p.code & 0x07) === 0x05 && (p.code & 0xf0) !== 0) t.ok(i + 1 + Math.max(p.jt, p.jf) < prog.length, `jump ${i} in bounds`);
  });
  t.equal(prog[prog.length - 1]!.code & 0x07, 0x06, 'ends with a return');
});
