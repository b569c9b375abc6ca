/**
 * Element writes and reads over nfnetlink, skipping nft's parser and process: the driver's element
 * changes (`set`, `key`, `value` in the text form ruleset.ts renders) become NFT_MSG_NEWSETELEM /
 * DELSETELEM messages in one NFNL batch (one transaction, as one `nft -f` line is), and the
 * elements are read back with NFT_MSG_GETSETELEM dumps. The table's skeleton (chains, maps, sets)
 * is still created from text by nft; this file only knows the key and data layout of its maps:
 * each field of a concatenation takes whole 4-byte registers (ipv4 4 B, ipv6 16 B, inet_proto 1 B,
 * inet_service 2 B big-endian, numgen and mark u32 in host order), a verdict is a code and a chain.
 * The socket is the native module native/nfnetlink.c (opened in the driver's network namespace).
 */
import { constants, endianness } from 'node:os';
import ipaddr from 'ipaddr.js';
import { loadNative } from '../../common/native.js';
import { DriverError } from '../errors.js';
import { FAMILIES, backendMap, hairpinSet, slotMap, svcMap, type Family } from './names.js';
import { emptyElements, type Elements } from './ruleset.js';

interface Addon {
  open(nsPath: string | null): number;
  batch(fd: number, buf: Buffer): Buffer;
  dump(fd: number, buf: Buffer, timeoutMs: number): Buffer;
  close(fd: number): void;
}

let addon: Addon | null | undefined;

/** The native module, or undefined when it is not built (the driver then writes through nft). */
export function nativeNfnetlink(): Addon | undefined {
  if (addon === undefined) addon = loadNative<Addon>('nfnetlink') ?? null;
  return addon ?? undefined;
}

// netlink / nfnetlink / nf_tables constants (uapi headers).
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLM_F_CREATE = 0x400;
const NLM_F_ACK_TLVS = 0x200;
const NLM_F_DUMP_INTR = 0x10;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_GETSETELEM = 13;
const NFT_MSG_DELSETELEM = 14;
const NFPROTO_INET = 1;
const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;
const LIST_TABLE = 1;
const LIST_SET = 2;
const LIST_ELEMENTS = 3;
const LIST_ELEM = 1;
const ELEM_KEY = 1;
const ELEM_DATA = 2;
const DATA_VALUE = 1;
const DATA_VERDICT = 2;
const VERDICT_CODE = 1;
const VERDICT_CHAIN = 2;
const NFT_JUMP = -3;
const NFT_GOTO = -4;
const NLMSGERR_ATTR_MSG = 1;
const NLMSGERR_ATTR_OFFS = 2;
const nftType = (msg: number) => (NFNL_SUBSYS_NFTABLES << 8) | msg;

/** A message's element list stays under the 64 KiB an attribute length can say. */
const MAX_ELEMENTS_BYTES = 60_000;

type Field = 'ip4' | 'ip6' | 'proto' | 'port' | 'u32';
interface Layout {
  key: Field[];
  data: Field[] | 'verdict' | 'none';
}

/** The layout of each map and set renderSkeleton creates. */
export function layouts(): Map<string, Layout> {
  const m = new Map<string, Layout>();
  for (const f of FAMILIES) {
    const ip: Field = f === 4 ? 'ip4' : 'ip6';
    m.set(svcMap(f), { key: [ip, 'proto', 'port'], data: 'verdict' });
    m.set(slotMap(f), { key: [ip, 'proto', 'port', 'u32'], data: [ip, 'port'] });
    m.set(backendMap(f), { key: [ip, 'proto', 'port', ip, 'port'], data: ['u32'] });
    m.set(hairpinSet(f), { key: [ip, ip], data: 'none' });
  }
  return m;
}
const LAYOUTS = layouts();

/** `numgen` and `mark` are integers in host byte order. */
const HOST_LE = endianness() === 'LE';

const PROTO_NUM: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };
const PROTO_NAME: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
const ERRNO_NAME = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

/** A growing byte buffer with netlink attribute helpers. */
class Writer {
  buf: Buffer;
  len = 0;
  constructor(size = 0) {
    this.buf = Buffer.allocUnsafe(Math.max(4096, size));
  }
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = Buffer.allocUnsafe(cap);
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  /** Start an attribute (or a message header of `hdr` bytes); returns its offset for `end`. */
  begin(type: number, hdr = 4): number {
    this.reserve(hdr);
    const at = this.len;
    this.buf.fill(0, at, at + hdr);
    this.buf.writeUInt16LE(type, at + 2);
    this.len += hdr;
    return at;
  }
  endAttr(at: number): void {
    this.buf.writeUInt16LE(this.len - at, at);
    this.pad();
  }
  pad(): void {
    const p = (4 - (this.len & 3)) & 3;
    this.reserve(p);
    this.buf.fill(0, this.len, this.len + p);
    this.len += p;
  }
  string(type: number, s: string): void {
    const at = this.begin(type);
    const n = Buffer.byteLength(s);
    this.reserve(n + 1);
    this.buf.write(s, this.len);
    this.buf[this.len + n] = 0;
    this.len += n + 1;
    this.endAttr(at);
  }
  u32be(type: number, v: number): void {
    const at = this.begin(type);
    this.reserve(4);
    this.buf.writeInt32BE(v, this.len);
    this.len += 4;
    this.endAttr(at);
  }
  /** Message header + nfgenmsg; `endMsg` fills the length. */
  beginMsg(type: number, flags: number, seq: number, family: number, resId: number): number {
    this.reserve(20);
    const at = this.len;
    this.buf.writeUInt32LE(0, at);
    this.buf.writeUInt16LE(type, at + 4);
    this.buf.writeUInt16LE(flags, at + 6);
    this.buf.writeUInt32LE(seq >>> 0, at + 8);
    this.buf.writeUInt32LE(0, at + 12);
    this.buf[at + 16] = family;
    this.buf[at + 17] = 0;
    this.buf.writeUInt16BE(resId, at + 18);
    this.len += 20;
    return at;
  }
  endMsg(at: number): void {
    this.buf.writeUInt32LE(this.len - at, at);
  }
}

/** One field of a key or data value in the text form, into 4-byte registers. */
function putField(w: Writer, f: Field, text: string): void {
  const size = f === 'ip6' ? 16 : 4;
  w.reserve(size);
  const b = w.buf;
  const at = w.len;
  b.fill(0, at, at + size);
  switch (f) {
    case 'ip4': {
      let part = 0;
      let n = 0;
      let digits = 0;
      for (let i = 0; i <= text.length; i++) {
        const c = i < text.length ? text.charCodeAt(i) : 46;
        if (c === 46) {
          if (digits === 0 || n > 255 || part > 3) throw new Error(`bad IPv4 address ${JSON.stringify(text)}`);
          b[at + part++] = n;
          n = 0;
          digits = 0;
        } else if (c >= 48 && c <= 57 && digits < 3) {
          n = n * 10 + c - 48;
          digits++;
        } else throw new Error(`bad IPv4 address ${JSON.stringify(text)}`);
      }
      if (part !== 4) throw new Error(`bad IPv4 address ${JSON.stringify(text)}`);
      break;
    }
    case 'ip6': {
      if (!ipaddr.IPv6.isValid(text)) throw new Error(`bad IPv6 address ${JSON.stringify(text)}`);
      const bytes = ipaddr.IPv6.parse(text).toByteArray();
      for (let i = 0; i < 16; i++) b[at + i] = bytes[i]!;
      break;
    }
    case 'proto': {
      const n = PROTO_NUM[text];
      if (n === undefined) throw new Error(`bad protocol ${JSON.stringify(text)}`);
      b[at] = n;
      break;
    }
    case 'port': {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`bad port ${JSON.stringify(text)}`);
      b.writeUInt16BE(n, at);
      break;
    }
    case 'u32': {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`bad integer ${JSON.stringify(text)}`);
      if (HOST_LE) b.writeUInt32LE(n, at);
      else b.writeUInt32BE(n, at);
      break;
    }
  }
  w.len += size;
}

function putValue(w: Writer, type: number, fields: Field[], text: string): void {
  const parts = text.split(' . ');
  if (parts.length !== fields.length) throw new Error(`expected ${fields.length} fields, got ${JSON.stringify(text)}`);
  const outer = w.begin(type | NLA_F_NESTED);
  const inner = w.begin(DATA_VALUE);
  for (let i = 0; i < fields.length; i++) putField(w, fields[i]!, parts[i]!);
  w.endAttr(inner);
  w.endAttr(outer);
}

function putVerdict(w: Writer, text: string): void {
  const m = /^(goto|jump) (\S+)$/.exec(text);
  if (!m) throw new Error(`bad verdict ${JSON.stringify(text)}`);
  const outer = w.begin(ELEM_DATA | NLA_F_NESTED);
  const v = w.begin(DATA_VERDICT | NLA_F_NESTED);
  w.u32be(VERDICT_CODE, m[1] === 'goto' ? NFT_GOTO : NFT_JUMP);
  w.string(VERDICT_CHAIN, m[2]!);
  w.endAttr(v);
  w.endAttr(outer);
}

/** What one message of a batch carried, to name the element an error points at. */
interface Sent {
  seq: number;
  verb: 'add' | 'delete';
  set: string;
  keys: string[];
  values?: string[];
  /** The message holds keys[from] up to keys[from + offsets.length - 1]. */
  from: number;
  /** Offset of each element's attribute from the message start. */
  offsets: number[];
}

const itemText = (s: Sent, i: number): string => {
  const v = s.values?.[s.from + i] ?? '';
  const k = s.keys[s.from + i]!;
  return s.verb === 'add' && v !== '' ? `${k} : ${v}` : k;
};

/** One change of a batch: add (`value` '' for sets) or delete of `key` in `set`. */
export interface ElementOps {
  /** Elements in all (sizes the buffer). */
  ops?: number;
  /** Calls `emit` per set with its deletes, then per set with its adds (keys, and values: '' for sets). */
  each(emit: (verb: 'add' | 'delete', set: string, keys: string[], values?: string[]) => void): void;
}

/** A failed batch: the kernel's errno name and the element it named. */
export class NetlinkBatchError extends DriverError {
  constructor(
    readonly errno: string,
    readonly element: string,
    detail = '',
  ) {
    super('nftables', `netlink element write failed: ${errno} on ${element}${detail ? ` (${detail})` : ''}`);
  }
}

export class NftNetlink {
  private fd: number;
  private seq = Math.floor(Date.now() / 1000) & 0x7fffffff;

  private constructor(
    private readonly addon: Addon,
    fd: number,
    readonly table: string,
  ) {
    this.fd = fd;
  }

  /** Opens the socket in the namespace at `nsPath` (none: this one); undefined when the native module is missing. */
  static open(table: string, nsPath?: string): NftNetlink | undefined {
    const a = nativeNfnetlink();
    if (!a) return undefined;
    try {
      return new NftNetlink(a, a.open(nsPath ?? null), table);
    } catch (e) {
      throw new DriverError('nftables', `cannot open a netfilter netlink socket${nsPath ? ` in ${nsPath}` : ''}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Sequence numbers as the kernel echoes them (u32). */
  private nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) >>> 0;
    return s;
  }

  close(): void {
    if (this.fd < 0) return;
    this.addon.close(this.fd);
    this.fd = -1;
  }

  /** Encode `ops` as one batch (throws naming a malformed element before anything is sent). */
  encode(ops: ElementOps): { buf: Buffer; sent: Sent[]; elements: number } {
    const w = new Writer((ops.ops ?? 0) * 64);
    const sent: Sent[] = [];
    let elements = 0;
    let lastAt = -1;
    const begin = w.beginMsg(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, this.nextSeq(), 0, NFNL_SUBSYS_NFTABLES);
    w.endMsg(begin);
    ops.each((verb, set, items, values) => {
      const layout = LAYOUTS.get(set);
      if (!layout) throw new DriverError('nftables', `netlink: no layout for set ${set}`);
      let i = 0;
      while (i < items.length) {
        const seq = this.nextSeq();
        const type = nftType(verb === 'add' ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM);
        const msg = w.beginMsg(type, NLM_F_REQUEST | (verb === 'add' ? NLM_F_CREATE : 0), seq, NFPROTO_INET, 0);
        lastAt = msg;
        w.string(LIST_TABLE, this.table);
        w.string(LIST_SET, set);
        const list = w.begin(LIST_ELEMENTS | NLA_F_NESTED);
        const s: Sent = { seq, verb, set, keys: items, values, from: i, offsets: [] };
        while (i < items.length && w.len - list < MAX_ELEMENTS_BYTES) {
          const key = items[i]!;
          const value = verb === 'add' && layout.data !== 'none' ? (values?.[i] ?? '') : '';
          i++;
          s.offsets.push(w.len - msg);
          try {
            const el = w.begin(LIST_ELEM | NLA_F_NESTED);
            if (verb === 'add' && layout.data !== 'none' && value === '') throw new Error('no value');
            putValue(w, ELEM_KEY, layout.key, key);
            if (value !== '') {
              if (layout.data === 'verdict') putVerdict(w, value);
              else putValue(w, ELEM_DATA, layout.data as Field[], value);
            }
            w.endAttr(el);
          } catch (e) {
            throw new DriverError('nftables', `netlink: cannot encode element ${set} { ${itemText(s, s.offsets.length - 1)} }: ${(e as Error).message}`);
          }
          elements++;
        }
        w.endAttr(list);
        w.endMsg(msg);
        sent.push(s);
      }
    });
    // The last message asks for an ack: its arrival says the batch ran to its end.
    if (lastAt >= 0) w.buf.writeUInt16LE(w.buf.readUInt16LE(lastAt + 6) | NLM_F_ACK, lastAt + 6);
    const end = w.beginMsg(NFNL_MSG_BATCH_END, NLM_F_REQUEST, this.nextSeq(), 0, NFNL_SUBSYS_NFTABLES);
    w.endMsg(end);
    return { buf: w.buf.subarray(0, w.len), sent, elements };
  }

  /** Write `ops` as one transaction; rejects with NetlinkBatchError naming the first element the kernel refused. */
  write(ops: ElementOps, sending?: (elements: number, bytes: number) => void): { elements: number; bytes: number } {
    const { buf, sent, elements } = this.encode(ops);
    if (!sent.length) return { elements: 0, bytes: 0 };
    sending?.(elements, buf.length);
    let replies: Buffer;
    try {
      replies = this.addon.batch(this.fd, buf);
    } catch (e) {
      throw new DriverError('nftables', `netlink batch of ${elements} elements not sent: ${(e as Error).message}`, { cause: e });
    }
    const bySeq = new Map(sent.map((s) => [s.seq, s]));
    const lastSeq = sent[sent.length - 1]!.seq;
    let acked = false;
    for (const m of messages(replies)) {
      if (m.type !== NLMSG_ERROR) continue;
      const err = -m.body.readInt32LE(0);
      const seq = m.body.readUInt32LE(4 + 8);
      if (err === 0) {
        if (seq === lastSeq) acked = true;
        continue;
      }
      const s = bySeq.get(seq);
      let detail = '';
      let offset = -1;
      if (m.flags & NLM_F_ACK_TLVS) {
        for (const [type, v] of attrs(m.body, 4 + 16)) {
          if (type === NLMSGERR_ATTR_MSG) detail = v.toString('utf8').replace(/\0+$/, '');
          if (type === NLMSGERR_ATTR_OFFS) offset = v.readUInt32LE(0);
        }
      }
      const name = ERRNO_NAME.get(err) ?? `errno ${err}`;
      throw new NetlinkBatchError(name, s ? elementAt(s, offset) : `message ${seq}`, detail);
    }
    if (!acked) throw new DriverError('nftables', `netlink batch of ${elements} elements: no acknowledgement from the kernel`);
    return { elements, bytes: buf.length };
  }

  /** Every element of every map and set of the table, in the text form the renderer writes. */
  readElements(timeoutMs = 30_000): Elements {
    const out = emptyElements();
    for (const [set, layout] of LAYOUTS) {
      // A set changed during its dump says so (NLM_F_DUMP_INTR): read it again.
      let replies = this.dumpSet(set, timeoutMs);
      for (let tries = 1; tries < 5 && [...messages(replies)].some((m) => m.flags & NLM_F_DUMP_INTR); tries++) replies = this.dumpSet(set, timeoutMs);
      const els = out.get(set)!;
      for (const m of messages(replies)) {
        if (m.type === NLMSG_DONE) break;
        if (m.type === NLMSG_ERROR) {
          const err = -m.body.readInt32LE(0);
          if (err === 0) continue;
          const e = new DriverError('nftables', `netlink dump of ${set}: ${ERRNO_NAME.get(err) ?? err}`);
          (e as { errno?: string }).errno = ERRNO_NAME.get(err);
          throw e;
        }
        for (const [type, v] of attrs(m.body, 4)) {
          if (type !== LIST_ELEMENTS) continue;
          for (const [, el] of attrs(v, 0)) decodeElement(el, layout, els);
        }
      }
    }
    return out;
  }

  private dumpSet(set: string, timeoutMs: number): Buffer {
    const w = new Writer();
    const msg = w.beginMsg(nftType(NFT_MSG_GETSETELEM), NLM_F_REQUEST | NLM_F_DUMP, this.nextSeq(), NFPROTO_INET, 0);
    w.string(LIST_TABLE, this.table);
    w.string(LIST_SET, set);
    w.endMsg(msg);
    try {
      return this.addon.dump(this.fd, w.buf.subarray(0, w.len), timeoutMs);
    } catch (e) {
      throw new DriverError('nftables', `netlink dump of ${set} failed: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** The element an error's attribute offset falls in (the message's first element without one). */
function elementAt(s: Sent, offset: number): string {
  let i = 0;
  if (offset >= 0) while (i + 1 < s.offsets.length && s.offsets[i + 1]! <= offset) i++;
  const more = offset < 0 && s.offsets.length > 1 ? ` (or one of ${s.offsets.length - 1} more in that message)` : '';
  return `${s.verb} element ${s.set} { ${itemText(s, i)} }${more}`;
}

interface Msg {
  type: number;
  flags: number;
  /** The payload after the 16-byte header. */
  body: Buffer;
}

function* messages(buf: Buffer): Generator<Msg> {
  let at = 0;
  while (at + 16 <= buf.length) {
    const len = buf.readUInt32LE(at);
    if (len < 16 || at + len > buf.length) return;
    yield { type: buf.readUInt16LE(at + 4), flags: buf.readUInt16LE(at + 6), body: buf.subarray(at + 16, at + len) };
    at += (len + 3) & ~3;
  }
}

function* attrs(buf: Buffer, from: number): Generator<[number, Buffer]> {
  let at = from;
  while (at + 4 <= buf.length) {
    const len = buf.readUInt16LE(at);
    if (len < 4 || at + len > buf.length) return;
    yield [buf.readUInt16LE(at + 2) & NLA_TYPE_MASK, buf.subarray(at + 4, at + len)];
    at += (len + 3) & ~3;
  }
}

function fieldText(f: Field, b: Buffer, at: number): string {
  switch (f) {
    case 'ip4':
      return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
    case 'ip6':
      return ipaddr.fromByteArray([...b.subarray(at, at + 16)]).toString();
    case 'proto':
      return PROTO_NAME[b[at]!] ?? String(b[at]);
    case 'port':
      return String(b.readUInt16BE(at));
    case 'u32':
      return String(HOST_LE ? b.readUInt32LE(at) : b.readUInt32BE(at));
  }
}

function valueText(fields: Field[], nested: Buffer): string {
  for (const [type, v] of attrs(nested, 0)) {
    if (type !== DATA_VALUE) continue;
    const parts: string[] = [];
    let at = 0;
    for (const f of fields) {
      parts.push(fieldText(f, v, at));
      at += f === 'ip6' ? 16 : 4;
    }
    return parts.join(' . ');
  }
  return '';
}

function verdictText(nested: Buffer): string {
  for (const [type, v] of attrs(nested, 0)) {
    if (type !== DATA_VERDICT) continue;
    let code = 0;
    let chain = '';
    for (const [t, x] of attrs(v, 0)) {
      if (t === VERDICT_CODE) code = x.readInt32BE(0);
      if (t === VERDICT_CHAIN) chain = x.toString('utf8').replace(/\0+$/, '');
    }
    return code === NFT_GOTO ? `goto ${chain}` : code === NFT_JUMP ? `jump ${chain}` : `verdict ${code}`;
  }
  return '';
}

function decodeElement(el: Buffer, layout: Layout, into: Map<string, string>): void {
  let key = '';
  let value = '';
  for (const [type, v] of attrs(el, 0)) {
    if (type === ELEM_KEY) key = valueText(layout.key, v);
    else if (type === ELEM_DATA) value = layout.data === 'verdict' ? verdictText(v) : layout.data === 'none' ? '' : valueText(layout.data, v);
  }
  if (key) into.set(key, value);
}

/** The namespace file a runner's options point at: `netns` NAME, or a `nsenter --net=PATH` / `-t PID -n` prefix. */
export function namespacePath(opts: { netns?: string; prefix?: string[] }): string | undefined | null {
  if (opts.prefix) {
    const p = opts.prefix;
    if (p[0] !== 'nsenter') return null;
    const net = p.find((a) => a.startsWith('--net='));
    if (net && p.length === 2) return net.slice('--net='.length);
    const t = p.indexOf('-t');
    if (t >= 0 && p.length === 4 && p.includes('-n') && /^\d+$/.test(p[t + 1] ?? '')) return `/proc/${p[t + 1]}/ns/net`;
    return null; // some other prefix: netlink cannot follow it
  }
  if (opts.netns) return `/run/netns/${opts.netns}`;
  return undefined;
}

export type { Family };
