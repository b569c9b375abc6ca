/**
 * The fast query parser: one pass over the header, the question and (for EDNS0) the remaining
 * records, into a reusable Query object. The name is lower-cased into a scratch buffer and turned
 * into one string; nothing else is allocated on the success path.
 */
import { Flag, HEADER_SIZE, MAX_LABEL, MAX_NAME_WIRE, RRType } from './constants.js';
import { MalformedPacketError } from './errors.js';

export interface Query {
  id: number;
  /** The raw 16-bit flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode). */
  flags: number;
  opcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
  /** Lower-cased, dotted, no trailing dot; the root is ''. Bytes outside [!-~] and `.`/`\` in labels are escaped as \DDD. */
  qname: string;
  qtype: number;
  qclass: number;
  /** Offset just past the question (header + qname + qtype + qclass). */
  questionEnd: number;
  /** True when the question name used a compression pointer (so it cannot be copied byte-for-byte). */
  qnameCompressed: boolean;
  /** The question name as sent had an upper-case letter (A-Z). */
  qnameUpper: boolean;
  /** An OPT record was present in the additional section. */
  edns: boolean;
  /** Requestor's UDP payload size from OPT (0 without EDNS0). */
  ednsSize: number;
  ednsVersion: number;
  /** DNSSEC OK bit from OPT. */
  ednsDo: boolean;
}

export function newQuery(): Query {
  return {
    id: 0, flags: 0, opcode: 0, qdcount: 0, ancount: 0, nscount: 0, arcount: 0,
    qname: '', qtype: 0, qclass: 0, questionEnd: 0, qnameCompressed: false, qnameUpper: false,
    edns: false, ednsSize: 0, ednsVersion: 0, ednsDo: false,
  };
}

const scratch = Buffer.allocUnsafe(1024);

function fail(reason: string, offset: number, id: number): never {
  throw new MalformedPacketError(reason, offset, id);
}

/**
 * Parse a query. Throws MalformedPacketError for: short header, QR set (a response), QDCOUNT != 1,
 * bad or looping names, names over 255 bytes, truncated question or records, more than one OPT.
 */
export function parseQuery(buf: Uint8Array, out: Query = newQuery()): Query {
  const len = buf.length;
  if (len < HEADER_SIZE) fail(`header needs 12 bytes, got ${len}`, 0, len >= 2 ? (buf[0]! << 8) | buf[1]! : -1);
  const id = (buf[0]! << 8) | buf[1]!;
  const flags = (buf[2]! << 8) | buf[3]!;
  out.id = id;
  out.flags = flags;
  out.opcode = (flags >> 11) & 0xf;
  out.qdcount = (buf[4]! << 8) | buf[5]!;
  out.ancount = (buf[6]! << 8) | buf[7]!;
  out.nscount = (buf[8]! << 8) | buf[9]!;
  out.arcount = (buf[10]! << 8) | buf[11]!;
  if (flags & Flag.QR) fail('QR bit set: this is a response, not a query', 2, id);
  if (out.qdcount !== 1) fail(`QDCOUNT must be 1, got ${out.qdcount}`, 4, id);
  let off = readQname(buf, HEADER_SIZE, out, id);
  if (off + 4 > len) fail('question truncated before QTYPE/QCLASS', off, id);
  out.qtype = (buf[off]! << 8) | buf[off + 1]!;
  out.qclass = (buf[off + 2]! << 8) | buf[off + 3]!;
  off += 4;
  out.questionEnd = off;
  out.edns = false;
  out.ednsSize = 0;
  out.ednsVersion = 0;
  out.ednsDo = false;
  const rest = out.ancount + out.nscount;
  for (let i = 0; i < rest + out.arcount; i++) off = readRecord(buf, off, out, id, i >= rest);
  return out;
}

/** Read the question name into out.qname; returns the offset after it in the packet. */
function readQname(buf: Uint8Array, start: number, out: Query, id: number): number {
  const len = buf.length;
  let off = start;
  let end = -1;
  let w = 0;
  let wire = 0;
  let jumps = 0;
  let escape = false;
  let upper = false;
  out.qnameCompressed = false;
  for (;;) {
    if (off >= len) fail('name runs past end of packet', off, id);
    const l = buf[off]!;
    if (l === 0) {
      wire += 1;
      if (end < 0) end = off + 1;
      break;
    }
    if ((l & 0xc0) === 0xc0) {
      if (off + 1 >= len) fail('compression pointer truncated', off, id);
      const ptr = ((l & 0x3f) << 8) | buf[off + 1]!;
      if (ptr >= off || ++jumps > 64) fail('compression pointer does not point backwards', off, id);
      if (end < 0) end = off + 2;
      out.qnameCompressed = true;
      off = ptr;
      continue;
    }
    if (l & 0xc0) fail(`unsupported label type 0x${l.toString(16)}`, off, id);
    if (l > MAX_LABEL) fail('label over 63 bytes', off, id);
    wire += l + 1;
    if (wire + 1 > MAX_NAME_WIRE) fail('name over 255 bytes', off, id);
    if (off + 1 + l > len) fail('label runs past end of packet', off, id);
    if (w > 0) scratch[w++] = 0x2e;
    for (let i = off + 1; i <= off + l; i++) {
      let c = buf[i]!;
      if (c >= 0x41 && c <= 0x5a) {
        c |= 0x20;
        upper = true;
      } else if (c <= 0x20 || c >= 0x7f || c === 0x2e || c === 0x5c) escape = true;
      scratch[w++] = c;
    }
    off += l + 1;
  }
  out.qnameUpper = upper;
  out.qname = escape ? escapedName(buf, start) : scratch.toString('latin1', 0, w);
  return end;
}

/** Rare path: a name with dots, backslashes or non-printable bytes inside labels. */
function escapedName(buf: Uint8Array, start: number): string {
  const labels: string[] = [];
  let off = start;
  for (;;) {
    const l = buf[off]!;
    if (l === 0) break;
    if ((l & 0xc0) === 0xc0) {
      off = ((l & 0x3f) << 8) | buf[off + 1]!;
      continue;
    }
    let s = '';
    for (let i = off + 1; i <= off + l; i++) {
      let c = buf[i]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c <= 0x20 || c >= 0x7f) s += '\\' + String(c).padStart(3, '0');
      else if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
      else s += String.fromCharCode(c);
    }
    labels.push(s);
    off += l + 1;
  }
  return labels.join('.');
}

/** Skip a (possibly compressed) name; returns the offset after it. */
export function skipName(buf: Uint8Array, start: number, id = -1): number {
  let off = start;
  let wire = 0;
  for (;;) {
    if (off >= buf.length) fail('name runs past end of packet', off, id);
    const l = buf[off]!;
    if (l === 0) return off + 1;
    if ((l & 0xc0) === 0xc0) {
      if (off + 1 >= buf.length) fail('compression pointer truncated', off, id);
      const ptr = ((l & 0x3f) << 8) | buf[off + 1]!;
      if (ptr >= off) fail('compression pointer does not point backwards', off, id);
      return off + 2;
    }
    if (l & 0xc0) fail(`unsupported label type 0x${l.toString(16)}`, off, id);
    wire += l + 1;
    if (wire + 1 > MAX_NAME_WIRE) fail('name over 255 bytes', off, id);
    off += l + 1;
  }
}

function readRecord(buf: Uint8Array, start: number, out: Query, id: number, additional: boolean): number {
  let off = skipName(buf, start, id);
  if (off + 10 > buf.length) fail('resource record header truncated', off, id);
  const type = (buf[off]! << 8) | buf[off + 1]!;
  const rdlen = (buf[off + 8]! << 8) | buf[off + 9]!;
  if (off + 10 + rdlen > buf.length) fail('RDATA runs past end of packet', off, id);
  if (type === RRType.OPT && additional) {
    if (out.edns) fail('more than one OPT record', off, id);
    if (buf[start] !== 0) fail('OPT owner name must be the root', start, id);
    out.edns = true;
    out.ednsSize = (buf[off + 2]! << 8) | buf[off + 3]!;
    out.ednsVersion = buf[off + 5]!;
    out.ednsDo = (buf[off + 6]! & 0x80) !== 0;
  }
  return off + 10 + rdlen;
}
