/**
 * The response builder: header, question, answer/authority/additional records with name
 * compression, written into one growing buffer. Record boundaries are remembered so the message
 * can be cut to a size limit (dropping whole records, never half of one) with TC set.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { Flag, HEADER_SIZE, MAX_LABEL, MAX_NAME_WIRE, RRClass, RRType, TCP_LIMIT } from './constants.js';
import { EncodeError } from './errors.js';
import type { ResourceRecord } from './records.js';

export type Section = 'answer' | 'authority' | 'additional';

export interface Header {
  id: number;
  /** Flags word to send; QR is always added. */
  flags: number;
  rcode?: number;
  /**
   * Compress as miekg/dns (mesos-dns) does: a name only points at an earlier name of the same
   * letter case, and labels from the first one holding a byte miekg escapes (`.()\;@"\\`, space,
   * unprintable) on are never compression targets. Default: case-insensitive targets.
   */
  exactCase?: boolean;
}

export class MessageBuilder {
  private buf = Buffer.alloc(512);
  private len = HEADER_SIZE;
  private readonly names = new Map<string, number>();
  private readonly counts = [0, 0, 0, 0];
  private section = 0;
  /** Offsets where each record (of answer/authority/additional, in order) starts. */
  private readonly starts: number[] = [];
  private readonly sectionOf: number[] = [];
  private readonly exact: boolean;

  constructor(header: Header) {
    this.exact = header.exactCase === true;
    this.buf.writeUInt16BE(header.id & 0xffff, 0);
    this.buf.writeUInt16BE(((header.flags | Flag.QR) & 0xfff0) | ((header.rcode ?? 0) & 0xf), 2);
  }

  /** Write the question. `compress: false` keeps answer owners spelled out (not pointing at the question's case). */
  question(name: string, qtype: number, qclass: number = RRClass.IN, opts: { compress?: boolean } = {}): this {
    if (this.section > 0 || this.counts[0]) throw new EncodeError('question must come first and only once');
    this.name(name, opts.compress !== false, opts.compress !== false);
    this.u16(qtype);
    this.u16(qclass);
    this.counts[0] = 1;
    return this;
  }

  /** Append one record; sections must be filled in order (answer, authority, additional). */
  add(section: Section, rr: ResourceRecord): this {
    const s = section === 'answer' ? 1 : section === 'authority' ? 2 : 3;
    if (s < this.section) throw new EncodeError(`cannot add to ${section} after a later section`);
    this.section = s;
    const start = this.len;
    try {
      this.record(rr);
    } catch (e) {
      this.len = start;
      throw e;
    }
    this.starts.push(start);
    this.sectionOf.push(s);
    this.counts[s]!++;
    return this;
  }

  /** Append an EDNS0 OPT pseudo-record (additional section) advertising `udpSize`. */
  opt(udpSize: number): this {
    this.section = 3;
    this.starts.push(this.len);
    this.sectionOf.push(3);
    this.u8(0);
    this.u16(RRType.OPT);
    this.u16(udpSize);
    this.u32(0);
    this.u16(0);
    this.counts[3]!++;
    return this;
  }

  /**
   * The finished message. When longer than `limit`: all additional records go first, then records
   * from the end until it fits, and TC is set when `setTC` (mesos-dns SetTruncateBit).
   */
  finish(limit = TCP_LIMIT, setTC = true): Buffer {
    let len = this.len;
    const counts = [...this.counts];
    let truncated = false;
    if (len > limit) {
      truncated = true;
      let i = this.starts.length;
      while (i > 0 && this.sectionOf[i - 1] === 3) i--;
      len = i < this.starts.length ? this.starts[i]! : len;
      counts[3] = 0;
      while (len > limit && i > 0) {
        i--;
        len = this.starts[i]!;
        counts[this.sectionOf[i]!]!--;
      }
      if (len > limit) len = Math.min(this.len, limit);
    }
    const out = Buffer.from(this.buf.subarray(0, len));
    for (let s = 0; s < 4; s++) out.writeUInt16BE(counts[s]!, 4 + 2 * s);
    let flags = out.readUInt16BE(2) & ~Flag.TC;
    if (truncated && setTC) flags |= Flag.TC;
    out.writeUInt16BE(flags, 2);
    return out;
  }

  private record(rr: ResourceRecord): void {
    this.name(rr.name, true);
    this.u16(RRType[rr.type]);
    this.u16(RRClass.IN);
    this.u32(rr.ttl >>> 0);
    const lenAt = this.len;
    this.u16(0);
    const dataStart = this.len;
    switch (rr.type) {
      case 'A':
        this.ipv4(rr.address);
        break;
      case 'AAAA':
        this.ipv6(rr.address);
        break;
      case 'NS':
      case 'CNAME':
      case 'PTR':
        this.name(rr.target, true);
        break;
      case 'SRV':
        this.u16(rr.priority);
        this.u16(rr.weight);
        this.u16(rr.port);
        this.name(rr.target, false);
        break;
      case 'SOA':
        this.name(rr.mname, true);
        this.name(rr.rname, true);
        for (const n of [rr.serial, rr.refresh, rr.retry, rr.expire, rr.minimum]) this.u32(n >>> 0);
        break;
      case 'TXT':
        for (const t of rr.texts.length ? rr.texts : ['']) {
          const b = Buffer.from(t, 'utf8');
          if (b.length > 255) throw new EncodeError('TXT string over 255 bytes');
          this.u8(b.length);
          this.bytes(b);
        }
        break;
    }
    this.buf.writeUInt16BE(this.len - dataStart, lenAt);
  }

  /** Encode a dotted name, using and registering compression targets (lower-cased suffixes unless exactCase). */
  private name(name: string, compress: boolean, register = true): void {
    const labels = splitName(name);
    let wire = 1;
    for (const l of labels) wire += Buffer.byteLength(l, 'latin1') + 1;
    if (wire > MAX_NAME_WIRE) throw new EncodeError(`name over 255 bytes: ${name.slice(0, 80)}...`);
    // miekg keys a label holding an escaped byte, and every label after it, by a half-unescaped
    // copy of the whole name that no other name matches; the same name still matches itself.
    const opaqueFrom = this.exact ? labels.findIndex(miekgEscaped) : -1;
    for (let i = 0; i < labels.length; i++) {
      const rest = labels.slice(i).map(escapeLabel).join('.');
      const suffix = !this.exact ? rest.toLowerCase() : opaqueFrom >= 0 && i >= opaqueFrom ? `\0${labels.map(escapeLabel).join('.')}\0${i}` : rest;
      const at = this.names.get(suffix);
      if (at !== undefined && compress) {
        this.u16(0xc000 | at);
        return;
      }
      if (register && this.len < (this.exact ? 0x4000 : 0x3fff) && at === undefined) this.names.set(suffix, this.len);
      const b = Buffer.from(labels[i]!, 'latin1');
      if (b.length > MAX_LABEL) throw new EncodeError(`label over 63 bytes in ${name}`);
      if (b.length === 0) throw new EncodeError(`empty label in ${name}`);
      this.u8(b.length);
      this.bytes(b);
    }
    this.u8(0);
  }

  private ipv4(a: string): void {
    if (!isIPv4(a)) throw new EncodeError(`not an IPv4 address: ${a}`);
    for (const p of a.split('.')) this.u8(Number(p));
  }

  private ipv6(a: string): void {
    if (!isIPv6(a)) throw new EncodeError(`not an IPv6 address: ${a}`);
    this.bytes(ipv6Bytes(a));
  }

  private ensure(n: number): void {
    if (this.len + n > TCP_LIMIT) throw new EncodeError('message over 65535 bytes');
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.min(TCP_LIMIT, Math.max(this.buf.length * 2, this.len + n)));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  private u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
  }
  private u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.len);
    this.len += 2;
  }
  private u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
  }
  private bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
}

/** Split a dotted name into labels; '' and '.' are the root. Trailing dot allowed. */
export function splitName(name: string): string[] {
  if (name === '' || name === '.') return [];
  if (!name.includes('\\')) return (name.endsWith('.') ? name.slice(0, -1) : name).split('.');
  // The escapes parseQuery writes (\. \\ \DDD): a query name with them encodes back to its own bytes.
  const labels: string[] = [];
  let cur = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === '.') {
      labels.push(cur);
      cur = '';
    } else if (c !== '\\' || i + 1 === name.length) cur += c;
    else if (/^[0-9]{3}$/.test(name.slice(i + 1, i + 4))) {
      const code = Number(name.slice(i + 1, i + 4));
      if (code > 255) throw new EncodeError(`bad escape \\${code} in ${name}`);
      cur += String.fromCharCode(code);
      i += 3;
    } else cur += name[++i]!;
  }
  if (cur !== '') labels.push(cur);
  return labels;
}

/** A label miekg/dns writes with an escape in presentation form. */
function miekgEscaped(l: string): boolean {
  for (let i = 0; i < l.length; i++) {
    const c = l.charCodeAt(i);
    if (c < 32 || c >= 127 || c === 0x2e || c === 0x28 || c === 0x29 || c === 0x3b || c === 0x20 || c === 0x40 || c === 0x22 || c === 0x5c) return true;
  }
  return false;
}

/** A label as text again (the inverse of splitName's unescaping), for compression keys. */
function escapeLabel(l: string): string {
  return l.includes('.') || l.includes('\\') ? l.replace(/[.\\]/g, '\\$&') : l;
}

/** 16 bytes of an IPv6 address (with :: and embedded IPv4 handled). */
export function ipv6Bytes(a: string): Buffer {
  const out = Buffer.alloc(16);
  let s = a;
  let tail4: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    tail4 = s.slice(lastColon + 1).split('.').map(Number);
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  for (let i = 0; i < 8; i++) out.writeUInt16BE(parseInt(groups[i] ?? '0', 16) & 0xffff, i * 2);
  if (tail4.length === 4) for (let i = 0; i < 4; i++) out[12 + i] = tail4[i]!;
  return out;
}
