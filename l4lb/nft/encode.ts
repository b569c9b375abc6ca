/**
 * The bytes of nf_tables set elements: netlink attributes (a growing Writer), the field codecs of
 * the driver's maps and sets (each field of a concatenation takes whole 4-byte registers: ipv4
 * 4 B, ipv6 16 B, inet_proto 1 B, inet_service 2 B big-endian, numgen and mark u32 in host order;
 * a verdict is a code and a chain), and the encoder that writes a service's elements straight from
 * the services model, with no element text in between (programming 10,000 VIPs from empty writes
 * 70,000 elements: rendering them as text and parsing that back cost more than the kernel's work).
 */
import { endianness } from 'node:os';
import ipaddr from 'ipaddr.js';
import type { Service } from '../driver.js';
import { FAMILIES, REJECT_CHAIN, backendMap, hairpinSet, modChain, slotMap, svcMap, type Family, type SvcData } from './names.js';

export const NLA_F_NESTED = 0x8000;
export const NLA_TYPE_MASK = 0x3fff;
export const LIST_ELEM = 1;
export const ELEM_KEY = 1;
export const ELEM_DATA = 2;
export const DATA_VALUE = 1;
export const DATA_VERDICT = 2;
export const VERDICT_CODE = 1;
export const VERDICT_CHAIN = 2;
export const NFT_JUMP = -3;
export const NFT_GOTO = -4;

export type Field = 'ip4' | 'ip6' | 'proto' | 'port' | 'u32';
export interface Layout {
  key: Field[];
  data: Field[] | 'verdict' | 'none';
}

/** The layout of each map and set renderSkeleton creates (the constant `picks` aside). */
export function layouts(svcData: SvcData = 'verdict'): Map<string, Layout> {
  const m = new Map<string, Layout>();
  for (const f of FAMILIES) {
    const ip: Field = f === 4 ? 'ip4' : 'ip6';
    m.set(svcMap(f), { key: [ip, 'proto', 'port'], data: svcData === 'verdict' ? 'verdict' : ['u32'] });
    m.set(slotMap(f), { key: [ip, 'proto', 'port', 'u32'], data: [ip, 'port'] });
    m.set(backendMap(f), { key: [ip, 'proto', 'port', ip, 'port'], data: ['u32'] });
    m.set(hairpinSet(f), { key: [ip, ip], data: 'none' });
  }
  return m;
}
export const LAYOUTS = layouts('verdict');
/** The slot-count encoding's: `svc4`/`svc6` map to a slot count (`mark`, u32 in host order). */
export const COUNT_LAYOUTS = layouts('count');
export const layoutsFor = (svcData: SvcData) => (svcData === 'count' ? COUNT_LAYOUTS : LAYOUTS);

/** `numgen` and `mark` are integers in host byte order. */
const HOST_LE = endianness() === 'LE';

export const PROTO_NUM: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };
export const PROTO_NAME: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

export const fieldSize = (f: Field): number => (f === 'ip6' ? 16 : 4);

/** A growing byte buffer with netlink attribute helpers. */
export class Writer {
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
    const b = this.buf;
    const at = this.len;
    for (let i = 0; i < hdr; i++) b[at + i] = 0;
    b[at + 2] = type & 0xff;
    b[at + 3] = type >>> 8;
    this.len += hdr;
    return at;
  }
  endAttr(at: number): void {
    const n = this.len - at;
    this.buf[at] = n & 0xff;
    this.buf[at + 1] = n >>> 8;
    this.pad();
  }
  pad(): void {
    const p = (4 - (this.len & 3)) & 3;
    if (p === 0) return;
    this.reserve(p);
    for (let i = 0; i < p; i++) this.buf[this.len + i] = 0;
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
  /** Bytes as they are (already padded to 4). */
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
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

/** An IPv4 address into b[at..at+4); false when `text` is not one. */
function parseIp4(text: string, b: Uint8Array, at: number): boolean {
  let part = 0;
  let n = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || n > 255 || part > 3) return false;
      b[at + part++] = n;
      n = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      n = n * 10 + c - 48;
      digits++;
    } else return false;
  }
  return part === 4;
}

/** An address of family `f` into b[at..]: 4 or 16 bytes. */
export function putIp(f: Family, text: string, b: Uint8Array, at: number): void {
  if (f === 4) {
    if (!parseIp4(text, b, at)) throw new Error(`bad IPv4 address ${JSON.stringify(text)}`);
    return;
  }
  if (!ipaddr.IPv6.isValid(text)) throw new Error(`bad IPv6 address ${JSON.stringify(text)}`);
  b.set(ipaddr.IPv6.parse(text).toByteArray(), at);
}

function putU32(b: Buffer, at: number, n: number): void {
  if (HOST_LE) {
    b[at] = n & 0xff;
    b[at + 1] = (n >>> 8) & 0xff;
    b[at + 2] = (n >>> 16) & 0xff;
    b[at + 3] = n >>> 24;
  } else b.writeUInt32BE(n, at);
}

function putPort(b: Buffer, at: number, n: number): void {
  b[at] = n >>> 8;
  b[at + 1] = n & 0xff;
}

/** One field of a key or data value in the text form, into 4-byte registers. */
export function putField(w: Writer, f: Field, text: string): void {
  const size = fieldSize(f);
  w.reserve(size);
  const b = w.buf;
  const at = w.len;
  b.fill(0, at, at + size);
  switch (f) {
    case 'ip4':
    case 'ip6':
      putIp(f === 'ip4' ? 4 : 6, text, b, at);
      break;
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
      putU32(b, at, n);
      break;
    }
  }
  w.len += size;
}

/** A key or data value given as text (`a . b . c`), as a nested attribute of `type`. */
export function putValue(w: Writer, type: number, fields: Field[], text: string): void {
  const parts = text.split(' . ');
  if (parts.length !== fields.length) throw new Error(`expected ${fields.length} fields, got ${JSON.stringify(text)}`);
  const outer = w.begin(type | NLA_F_NESTED);
  const inner = w.begin(DATA_VALUE);
  for (let i = 0; i < fields.length; i++) putField(w, fields[i]!, parts[i]!);
  w.endAttr(inner);
  w.endAttr(outer);
}

/** `goto CHAIN` / `jump CHAIN` as the element's data attribute. */
export function putVerdict(w: Writer, text: string): void {
  const m = /^(goto|jump) (\S+)$/.exec(text);
  if (!m) throw new Error(`bad verdict ${JSON.stringify(text)}`);
  const outer = w.begin(ELEM_DATA | NLA_F_NESTED);
  const v = w.begin(DATA_VERDICT | NLA_F_NESTED);
  w.u32be(VERDICT_CODE, m[1] === 'goto' ? NFT_GOTO : NFT_JUMP);
  w.string(VERDICT_CHAIN, m[2]!);
  w.endAttr(v);
  w.endAttr(outer);
}

/** The data attribute of `goto CHAIN`, encoded once per chain name. */
const verdicts = new Map<string, Buffer>();
function gotoBytes(chain: string): Buffer {
  let b = verdicts.get(chain);
  if (!b) {
    const w = new Writer(64);
    putVerdict(w, `goto ${chain}`);
    verdicts.set(chain, (b = Buffer.from(w.buf.subarray(0, w.len))));
  }
  return b;
}

/**
 * Elements being written: the caller starts an element of a set (`element`), writes it through
 * `w` (the writer may differ from one set to the next: read it after each `element`), and ends
 * it (`end`).
 */
export interface ElementSink {
  readonly w: Writer;
  /** Start an element of `set`; returns its attribute's offset. */
  element(set: string): number;
  end(at: number): void;
}

/** Scratch for one service's addresses and a backend's. */
const vipB = Buffer.alloc(16);
const beB = Buffer.alloc(16);

/** A nested value attribute of `len` payload bytes (a multiple of 4) at the writer's end; returns the payload's offset. */
function valueHeader(w: Writer, type: number, len: number): number {
  w.reserve(8 + len);
  const b = w.buf;
  const at = w.len;
  const t = type | NLA_F_NESTED;
  b[at] = (8 + len) & 0xff;
  b[at + 1] = (8 + len) >>> 8;
  b[at + 2] = t & 0xff;
  b[at + 3] = t >>> 8;
  b[at + 4] = (4 + len) & 0xff;
  b[at + 5] = (4 + len) >>> 8;
  b[at + 6] = DATA_VALUE;
  b[at + 7] = 0;
  for (let i = at + 8; i < at + 8 + len; i++) b[i] = 0;
  w.len += 8 + len;
  return at + 8;
}

function copy(src: Buffer, n: number, dst: Buffer, at: number): void {
  for (let i = 0; i < n; i++) dst[at + i] = src[i]!;
}

/** Slot counts per backend, as ruleset.ts's slotsFor (no arrays: into `out`). */
function slotCounts(s: Service, f: Family, maxSlots: number, out: number[]): boolean {
  let sum = 0;
  const bs = s.backends;
  for (let i = 0; i < bs.length; i++) {
    const b = bs[i]!;
    const w = (b.ip.includes(':') ? 6 : 4) === f ? b.weight : 0;
    out[i] = w > 0 ? w : 0;
    sum += out[i]!;
  }
  if (sum <= maxSlots) return false;
  let left = maxSlots;
  let scaled = false;
  for (let i = 0; i < bs.length; i++) {
    const w = out[i]!;
    if (w <= 0 || left <= 0) out[i] = 0;
    else {
      out[i] = Math.min(left, Math.max(1, Math.floor((w * maxSlots) / sum)));
      left -= out[i]!;
    }
    if (w > 0 && out[i] !== w) scaled = true;
  }
  return scaled;
}

const counts: number[] = [];

/**
 * The elements `service` owns (ruleset.ts's eachServiceElement, the same elements in bytes):
 * backend-map entries for draining or scaled backends, one slot per unit of weight, and the
 * service-map entry (`goto pick<n>`, or the slot count n with `svcData` 'count'). `withData`
 * false: keys only (a delete).
 */
export function encodeService(sink: ElementSink, s: Service, maxSlots: number, withData: boolean, svcData: SvcData = 'verdict'): void {
  const f: Family = s.vip.includes(':') ? 6 : 4;
  const ipLen = f === 4 ? 4 : 16;
  putIp(f, s.vip, vipB, 0);
  const proto = PROTO_NUM[s.protocol];
  if (proto === undefined) throw new Error(`bad protocol ${JSON.stringify(s.protocol)}`);
  if (!Number.isInteger(s.port) || s.port < 0 || s.port > 65535) throw new Error(`bad port ${JSON.stringify(s.port)}`);
  const scaled = slotCounts(s, f, maxSlots, counts);
  // Each set's elements may go to a writer of its own: `w` is re-read after each `element`.
  let w = sink.w;
  /** vip . proto . port, the start of every key. */
  const svcKey = (at: number) => {
    copy(vipB, ipLen, w.buf, at);
    w.buf[at + ipLen] = proto;
    putPort(w.buf, at + ipLen + 4, s.port);
  };
  const bs = s.backends;
  let slot = 0;
  const slots = slotMap(f);
  const backends = backendMap(f);
  for (let i = 0; i < bs.length; i++) {
    const b = bs[i]!;
    if ((b.ip.includes(':') ? 6 : 4) !== f) continue;
    putIp(f, b.ip, beB, 0);
    if (!Number.isInteger(b.port) || b.port < 0 || b.port > 65535) throw new Error(`bad port ${JSON.stringify(b.port)}`);
    if (scaled || b.weight <= 0) {
      const el = sink.element(backends);
      w = sink.w;
      const k = valueHeader(w, ELEM_KEY, 2 * ipLen + 12);
      svcKey(k);
      copy(beB, ipLen, w.buf, k + ipLen + 8);
      putPort(w.buf, k + 2 * ipLen + 8, b.port);
      if (withData) {
        // valueHeader may grow the buffer: read w.buf after it.
        const d = valueHeader(w, ELEM_DATA, 4);
        putU32(w.buf, d, Math.max(0, Math.floor(b.weight)));
      }
      sink.end(el);
    }
    for (let n = counts[i]!; n > 0; n--) {
      const el = sink.element(slots);
      w = sink.w;
      const k = valueHeader(w, ELEM_KEY, ipLen + 12);
      svcKey(k);
      putU32(w.buf, k + ipLen + 8, slot++);
      if (withData) {
        const d = valueHeader(w, ELEM_DATA, ipLen + 4);
        copy(beB, ipLen, w.buf, d);
        putPort(w.buf, d + ipLen, b.port);
      }
      sink.end(el);
    }
  }
  const el = sink.element(svcMap(f));
  w = sink.w;
  svcKey(valueHeader(w, ELEM_KEY, ipLen + 8));
  if (withData) {
    if (svcData === 'count') {
      const d = valueHeader(w, ELEM_DATA, 4);
      putU32(w.buf, d, slot);
    }
    else w.bytes(gotoBytes(slot > 0 ? modChain(slot) : REJECT_CHAIN));
  }
  sink.end(el);
}

/** The hairpin entry of a backend address (`ip . ip`). */
export function encodeHairpin(sink: ElementSink, ip: string): void {
  const f: Family = ip.includes(':') ? 6 : 4;
  const ipLen = f === 4 ? 4 : 16;
  putIp(f, ip, beB, 0);
  const el = sink.element(hairpinSet(f));
  const k = valueHeader(sink.w, ELEM_KEY, 2 * ipLen);
  copy(beB, ipLen, sink.w.buf, k);
  copy(beB, ipLen, sink.w.buf, k + ipLen);
  sink.end(el);
}

/** A delete of the element whose key bytes are `key` (latin1). */
export function encodeRawKey(sink: ElementSink, set: string, key: string): void {
  const el = sink.element(set);
  const at = valueHeader(sink.w, ELEM_KEY, key.length);
  sink.w.buf.write(key, at, 'latin1');
  sink.end(el);
}

/** An element given as its LIST_ELEM payload (key and data attributes). */
export function encodeRaw(sink: ElementSink, set: string, payload: Buffer): void {
  const el = sink.element(set);
  sink.w.bytes(payload);
  sink.end(el);
}

/** Elements written back to back per set, no message framing (the desired side of a byte diff). */
export class CollectSink implements ElementSink {
  w: Writer = new Writer(0);
  readonly sets = new Map<string, Writer>();
  /** `size`: each set's first buffer (one service's elements fit in the 4 KiB minimum). */
  constructor(private readonly size = 64 * 1024) {}
  element(set: string): number {
    let w = this.sets.get(set);
    if (!w) this.sets.set(set, (w = new Writer(this.size)));
    this.w = w;
    return w.begin(LIST_ELEM | NLA_F_NESTED);
  }
  end(at: number): void {
    this.w.endAttr(at);
  }
}
