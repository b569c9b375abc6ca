/**
 * What a refused nfnetlink batch is reported as, without a kernel: a fake socket answers the batch
 * with an error for one message (and, like the kernel's extended ack, the offset of the attribute it
 * refused), and the error names what was written (a rule, an element), where (chain, set, table)
 * and which part the kernel pointed at. The same on a real kernel: netlink.test.ts.
 */
import t from 'tap';
import { ElementDelta } from '../ruleset.js';
import { NetlinkBatchError, NftNetlink, type NfnetlinkAddon } from '../netlink.js';

const NLMSG_ERROR = 2;
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_OFFS = 2;
const ENOENT = 2;
const EINVAL = 22;

interface Msg {
  at: number;
  len: number;
  seq: number;
  flags: number;
}

/** The batch's messages. */
function messagesOf(buf: Buffer): Msg[] {
  const out: Msg[] = [];
  for (let at = 0; at + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(at);
    out.push({ at, len, seq: buf.readUInt32LE(at + 8), flags: buf.readUInt16LE(at + 6) });
    at += (len + 3) & ~3;
  }
  return out;
}

/** Offsets (from the message start) of the attributes of `m` with `type`, at the top level (`path` empty) or nested under `path`. */
function attrOffsets(buf: Buffer, m: Msg, path: number[]): number[] {
  let from = m.at + 20;
  let end = m.at + m.len;
  for (const type of path) {
    const hit = walk(buf, from, end).find((a) => a.type === type);
    if (!hit) return [];
    [from, end] = [hit.at + 4, hit.at + hit.len];
  }
  return walk(buf, from, end).map((a) => a.at - m.at);
}

function walk(buf: Buffer, from: number, end: number): { at: number; len: number; type: number }[] {
  const out = [];
  for (let p = from; p + 4 <= end; ) {
    const len = buf.readUInt16LE(p);
    out.push({ at: p, len, type: buf.readUInt16LE(p + 2) & 0x3fff });
    p += (len + 3) & ~3;
  }
  return out;
}

/** An NLMSG_ERROR reply to `m` (capped, as the kernel sends with extended acks), with the attribute offset when given. */
function errorReply(buf: Buffer, m: Msg, errno: number, offset?: number): Buffer {
  const tlv = offset === undefined ? Buffer.alloc(0) : Buffer.alloc(8);
  if (offset !== undefined) {
    tlv.writeUInt16LE(8, 0);
    tlv.writeUInt16LE(NLMSGERR_ATTR_OFFS, 2);
    tlv.writeUInt32LE(offset, 4);
  }
  const out = Buffer.alloc(16 + 4 + 16 + tlv.length);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(NLMSG_ERROR, 4);
  out.writeUInt16LE(NLM_F_CAPPED | (offset === undefined ? 0 : NLM_F_ACK_TLVS), 6);
  out.writeUInt32LE(m.seq, 8);
  out.writeInt32LE(-errno, 16);
  buf.copy(out, 20, m.at, m.at + 16);
  tlv.copy(out, 36);
  return out;
}

/** A socket whose kernel refuses what `refuse` picks in each batch (messages without BEGIN/END). */
function fakeSocket(refuse: (buf: Buffer, msgs: Msg[]) => Buffer): NfnetlinkAddon {
  const no = () => {
    throw new Error('not in this fake');
  };
  return { open: () => 3, close: () => undefined, drain: no, dump: no, batch: (_fd, buf) => refuse(buf, messagesOf(buf).slice(1, -1)) };
}

const open = (refuse: (buf: Buffer, msgs: Msg[]) => Buffer) => NftNetlink.open('sx_t', undefined, 'count', fakeSocket(refuse))!;
const thrown = (f: () => void): NetlinkBatchError => {
  try {
    f();
  } catch (e) {
    return e as NetlinkBatchError;
  }
  throw new Error('nothing was thrown');
};

// Attribute types (uapi nf_tables.h).
const RULE_TABLE = 1;
const RULE_CHAIN = 2;
const RULE_EXPRESSIONS = 4;
const LIST_SET = 2;
const LIST_ELEMENTS = 3;

t.test('a refused rule is named as a rule: its comment, chain, table, and the expression the kernel pointed at', async (t) => {
  const atExpr = (k: number) =>
    open((buf, [, v6]) => errorReply(buf, v6!, ENOENT, attrOffsets(buf, v6!, [RULE_EXPRESSIONS])[k]! + 8));
  let e = thrown(() => atExpr(6).writeServicesRules());
  t.type(e, NetlinkBatchError);
  t.equal(e.kind, 'rule');
  t.equal(e.errno, 'ENOENT');
  t.equal(e.message, 'nftables: netlink rule write failed: ENOENT on add rule vmap6 in chain services of table inet sx_t, refused at expression 7 of 11 (lookup svc6)');
  e = thrown(() => atExpr(10).writeServicesRules());
  t.match(e.message, /on add rule vmap6 in chain services of table inet sx_t, refused at expression 11 of 11 \(lookup picks\)$/, 'the last lookup: the verdict map');
  e = thrown(() => atExpr(0).writeServicesRules());
  t.match(e.message, /refused at expression 1 of 11 \(meta\)$/, 'another expression: its name');

  const atTop = (type: number) => open((buf, [v4]) => errorReply(buf, v4!, ENOENT, attrOffsets(buf, v4!, []).find((o) => buf.readUInt16LE(v4!.at + o + 2) === type)!));
  t.equal(thrown(() => atTop(RULE_CHAIN).writeServicesRules()).message, 'nftables: netlink rule write failed: ENOENT on add rule vmap4 in chain services of table inet sx_t, refused at the chain');
  t.equal(thrown(() => atTop(RULE_TABLE).writeServicesRules()).message, 'nftables: netlink rule write failed: ENOENT on add rule vmap4 in chain services of table inet sx_t, refused at the table');
  e = thrown(() => open((buf, [v4]) => errorReply(buf, v4!, EINVAL)).writeServicesRules());
  t.equal(e.message, 'nftables: netlink rule write failed: EINVAL on add rule vmap4 in chain services of table inet sx_t', 'without an offset: the rule, where it goes');
  t.notMatch(e.message, /element/, 'a rule is never called an element');
});

t.test('a refused element write names the element, its set and table, or the set or table the kernel pointed at', async (t) => {
  const delta = () => {
    const d = new ElementDelta();
    for (let i = 1; i <= 5; i++) d.insert('hairpin4', `10.0.0.${i} . 10.0.0.${i}`, '');
    d.remove('svc4', '11.0.0.1 . tcp . 80');
    return d;
  };
  // Deletes go first in a batch: the hairpin4 message is the second.
  const atElement = (k: number) => open((buf, [, add]) => errorReply(buf, add!, ENOENT, attrOffsets(buf, add!, [LIST_ELEMENTS])[k]! + 4));
  let e = thrown(() => atElement(2).write(delta()));
  t.equal(e.kind, 'element');
  t.equal(e.message, 'nftables: netlink element write failed: ENOENT on add element hairpin4 { 10.0.0.3 . 10.0.0.3 } in table inet sx_t');
  e = thrown(() => open((buf, [del]) => errorReply(buf, del!, ENOENT, attrOffsets(buf, del!, [LIST_ELEMENTS])[0]! + 4)).write(delta()));
  t.equal(e.message, 'nftables: netlink element write failed: ENOENT on delete element svc4 { 11.0.0.1 . tcp . 80 } in table inet sx_t');
  e = thrown(() => open((buf, [, add]) => errorReply(buf, add!, ENOENT)).write(delta()));
  t.equal(e.message, 'nftables: netlink element write failed: ENOENT on add element hairpin4 { 10.0.0.1 . 10.0.0.1 } (or one of 4 more in that message) in table inet sx_t', 'without an offset: the message\'s first element, and how many more');
  const atTop = (i: number) => open((buf, [, add]) => errorReply(buf, add!, ENOENT, attrOffsets(buf, add!, [])[i]!));
  t.equal(thrown(() => atTop(LIST_SET - 1).write(delta())).message, 'nftables: netlink element write failed: ENOENT on add element hairpin4 (5 elements in that message) in table inet sx_t, refused at the set');
  t.equal(thrown(() => atTop(0).write(delta())).message, 'nftables: netlink element write failed: ENOENT on add element hairpin4 (5 elements in that message) in table inet sx_t, refused at the table');
});

t.test('an error for a message the batch did not send names its sequence number', async (t) => {
  const e = thrown(() =>
    open((buf, [v4]) => {
      const r = errorReply(buf, v4!, EINVAL);
      r.writeUInt32LE(v4!.seq + 1000, 8);
      r.writeUInt32LE(v4!.seq + 1000, 28);
      return r;
    }).writeServicesRules(),
  );
  t.equal(e.kind, 'batch');
  t.match(e.message, /^nftables: netlink batch write failed: EINVAL on message \d+$/);
});
