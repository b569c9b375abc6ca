/**
 * What the kernel refused in an nfnetlink batch, named from the batch itself: the message (found by
 * its sequence number) says what was written (elements of one set, or a rule) and where (table, set
 * or chain); the extended ack's attribute offset, when the kernel gives one, says which part of it
 * was refused: the table's or the set's or chain's name, one element (decoded as the renderer's
 * text), or one expression of a rule (its name, and the set a lookup names).
 */
import { DriverError } from '../errors.js';
import { attrs, elementText } from './decode.js';
import { NLA_TYPE_MASK, type Layout } from './encode.js';

/** What one message of a batch carried. */
export interface Sent {
  seq: number;
  kind: 'element' | 'rule';
  verb: 'add' | 'delete';
  /** The set the elements go to; for a rule, its comment. */
  name: string;
  /** The message's offset in `buf` (its writer's until the batch is assembled). */
  at: number;
  buf?: Buffer;
  /** Offset of each element's attribute from the message start (elements only). */
  offsets: number[];
}

/** A failed batch: the kernel's errno name, what was written (`kind`) and `target`: which one, and where. */
export class NetlinkBatchError extends DriverError {
  constructor(
    readonly errno: string,
    readonly kind: 'element' | 'rule' | 'batch',
    readonly target: string,
    detail = '',
  ) {
    super('nftables', `netlink ${kind} write failed: ${errno} on ${target}${detail ? ` (${detail})` : ''}`);
  }
}

// Top-level attributes of NEWSETELEM/DELSETELEM and NEWRULE messages (uapi nf_tables.h).
const LIST_TABLE = 1;
const LIST_SET = 2;
const RULE_TABLE = 1;
const RULE_CHAIN = 2;
const RULE_EXPRESSIONS = 4;
const EXPR_NAME = 1;
const EXPR_DATA = 2;
const LOOKUP_SET = 1;
/** nlmsghdr (16) + nfgenmsg (4). */
const MSG_HEADER = 20;

interface Attr {
  type: number;
  /** Offsets in the batch: the attribute's header and its end. */
  start: number;
  end: number;
}

/** The top-level attributes of the message at `at`. */
function topAttrs(buf: Buffer, at: number): Attr[] {
  const out: Attr[] = [];
  const end = Math.min(buf.length, at + buf.readUInt32LE(at));
  for (let p = at + MSG_HEADER; p + 4 <= end; ) {
    const len = buf.readUInt16LE(p);
    if (len < 4 || p + len > end) break;
    out.push({ type: buf.readUInt16LE(p + 2) & NLA_TYPE_MASK, start: p, end: p + len });
    p += (len + 3) & ~3;
  }
  return out;
}

/** The nested attributes of `a` (a list: elements, expressions). */
function nested(buf: Buffer, a: Attr): Attr[] {
  const out: Attr[] = [];
  for (let p = a.start + 4; p + 4 <= a.end; ) {
    const len = buf.readUInt16LE(p);
    if (len < 4 || p + len > a.end) break;
    out.push({ type: buf.readUInt16LE(p + 2) & NLA_TYPE_MASK, start: p, end: p + len });
    p += (len + 3) & ~3;
  }
  return out;
}

const str = (b: Buffer) => b.toString('utf8').replace(/\0+$/, '');
const payload = (buf: Buffer, a: Attr | undefined) => (a ? buf.subarray(a.start + 4, a.end) : undefined);

/** The error for the reply to message `seq` (undefined `s`: not one this batch sent); `offset` < 0: none given. */
export function batchError(errno: string, seq: number, s: Sent | undefined, offset: number, layouts: Map<string, Layout>, detail: string): NetlinkBatchError {
  if (!s?.buf) return new NetlinkBatchError(errno, 'batch', `message ${seq}`, detail);
  const top = topAttrs(s.buf, s.at);
  const table = str(payload(s.buf, top.find((a) => a.type === LIST_TABLE)) ?? Buffer.alloc(0));
  const hit = offset >= 0 ? top.find((a) => s.at + offset >= a.start && s.at + offset < a.end) : undefined;
  return s.kind === 'rule' ? ruleError(errno, s, top, table, hit, offset, detail) : elementError(errno, s, table, hit, offset, layouts, detail);
}

function ruleError(errno: string, s: Sent, top: Attr[], table: string, hit: Attr | undefined, offset: number, detail: string): NetlinkBatchError {
  const buf = s.buf!;
  const chain = str(payload(buf, top.find((a) => a.type === RULE_CHAIN)) ?? Buffer.alloc(0));
  let where = '';
  if (hit?.type === RULE_TABLE) where = ', refused at the table';
  else if (hit?.type === RULE_CHAIN) where = ', refused at the chain';
  else if (hit?.type === RULE_EXPRESSIONS) {
    const exprs = nested(buf, hit);
    const k = exprs.findIndex((e) => s.at + offset >= e.start && s.at + offset < e.end);
    if (k >= 0) where = `, refused at expression ${k + 1} of ${exprs.length} (${exprText(buf, exprs[k]!)})`;
  }
  return new NetlinkBatchError(errno, 'rule', `${s.verb} rule ${s.name} in chain ${chain} of table inet ${table}${where}`, detail);
}

/** An expression's name, and the set it names for a lookup. */
function exprText(buf: Buffer, e: Attr): string {
  let name = '?';
  let set = '';
  for (const [type, v] of attrs(buf.subarray(e.start + 4, e.end), 0)) {
    if (type === EXPR_NAME) name = str(v);
    if (type === EXPR_DATA) for (const [t, x] of attrs(v, 0)) if (t === LOOKUP_SET) set = str(x);
  }
  return name === 'lookup' && set ? `lookup ${set}` : name;
}

function elementError(errno: string, s: Sent, table: string, hit: Attr | undefined, offset: number, layouts: Map<string, Layout>, detail: string): NetlinkBatchError {
  const n = s.offsets.length;
  const inTable = ` in table inet ${table}`;
  if (hit?.type === LIST_TABLE || hit?.type === LIST_SET) {
    const what = hit.type === LIST_TABLE ? 'the table' : 'the set';
    return new NetlinkBatchError(errno, 'element', `${s.verb} element ${s.name} (${n} element${n === 1 ? '' : 's'} in that message)${inTable}, refused at ${what}`, detail);
  }
  // The element the offset falls in; without an offset, the message's first one (and how many more).
  let i = 0;
  if (offset >= 0) while (i + 1 < n && s.offsets[i + 1]! <= offset) i++;
  const more = offset < 0 && n > 1 ? ` (or one of ${n - 1} more in that message)` : '';
  let text = '?';
  const layout = layouts.get(s.name);
  if (layout && n) {
    const at = s.at + s.offsets[i]!;
    const [k, v] = elementText(s.buf!.subarray(at + 4, at + s.buf!.readUInt16LE(at)), layout);
    text = s.verb === 'add' && v !== '' ? `${k} : ${v}` : k;
  }
  return new NetlinkBatchError(errno, 'element', `${s.verb} element ${s.name} { ${text} }${more}${inTable}`, detail);
}
