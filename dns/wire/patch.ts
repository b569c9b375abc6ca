/**
 * Pre-encoded answers: a response built once per (name, type) is reused for every query by
 * patching the ID, the RD/CD bits and the question bytes (so the client sees its own 0x20 case).
 * Also a generic cut of any encoded message to a size limit (forwarded answers, rare paths).
 */
import { Flag, HEADER_SIZE } from './constants.js';
import { MalformedPacketError } from './errors.js';
import { skipName, type Query } from './query.js';

/** Write a new ID into an encoded message (in place). */
export function patchId(msg: Uint8Array, id: number): void {
  msg[0] = (id >> 8) & 0xff;
  msg[1] = id & 0xff;
}

/**
 * Make a pre-built response answer this query, in place: ID, RD and CD from the query, and the
 * question bytes copied from the query when they have the same length (they do unless the query
 * compressed its question name). Returns false when the question could not be copied.
 */
export function patchReply(resp: Uint8Array, query: Uint8Array, q: Query): boolean {
  resp[0] = query[0]!;
  resp[1] = query[1]!;
  const keep = Flag.RD | Flag.CD;
  const f = (((resp[2]! << 8) | resp[3]!) & ~keep) | (q.flags & keep);
  resp[2] = f >> 8;
  resp[3] = f & 0xff;
  if (q.qnameCompressed) return false;
  if (resp.length < q.questionEnd) return false;
  resp.set(query.subarray(HEADER_SIZE, q.questionEnd), HEADER_SIZE);
  return true;
}

/**
 * Cut an encoded message to at most `limit` bytes on a record boundary: all additional records
 * first (an OPT record is kept when it fits), then records from the end. Sets TC when `setTC` and
 * something was dropped. Returns the same buffer when it already fits.
 */
export function truncateMessage(msg: Buffer, limit: number, setTC = true): Buffer {
  if (msg.length <= limit) return msg;
  const qd = msg.readUInt16BE(4);
  const counts = [msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)];
  let off = HEADER_SIZE;
  for (let i = 0; i < qd; i++) off = skipName(msg, off) + 4;
  const starts: number[] = [];
  const secs: number[] = [];
  let opt: Buffer | undefined;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]!; i++) {
      const start = off;
      const p = skipName(msg, off);
      if (p + 10 > msg.length) throw new MalformedPacketError('record header truncated', p);
      const end = p + 10 + msg.readUInt16BE(p + 8);
      if (end > msg.length) throw new MalformedPacketError('RDATA runs past end', p);
      if (s === 2 && msg.readUInt16BE(p) === 41) opt = msg.subarray(start, end);
      starts.push(start);
      secs.push(s);
      off = end;
    }
  }
  let n = starts.length;
  while (n > 0 && secs[n - 1] === 2) n--;
  const budget = limit - (opt?.length ?? 0);
  let len = n < starts.length ? starts[n]! : off;
  while (len > budget && n > 0) len = starts[--n]!;
  const kept = [0, 0, 0];
  for (let i = 0; i < n; i++) kept[secs[i]!]!++;
  const withOpt = opt !== undefined && len + opt.length <= limit;
  const out = Buffer.allocUnsafe(Math.min(len, limit) + (withOpt ? opt!.length : 0));
  msg.copy(out, 0, 0, Math.min(len, limit));
  if (withOpt) opt!.copy(out, Math.min(len, limit));
  out.writeUInt16BE(kept[0]!, 6);
  out.writeUInt16BE(kept[1]!, 8);
  out.writeUInt16BE(kept[2]! + (withOpt ? 1 : 0), 10);
  let flags = out.readUInt16BE(2) & ~Flag.TC;
  if (setTC) flags |= Flag.TC;
  out.writeUInt16BE(flags, 2);
  return out;
}

/** A minimal error reply (FORMERR, REFUSED, SERVFAIL...) echoing the question when it parsed. */
export function errorReply(query: Uint8Array, q: Query | undefined, rcode: number, extraFlags = 0): Buffer {
  const qlen = q && !q.qnameCompressed ? q.questionEnd - HEADER_SIZE : 0;
  const out = Buffer.alloc(HEADER_SIZE + qlen);
  out[0] = query[0] ?? 0;
  out[1] = query[1] ?? 0;
  const qflags = query.length >= 4 ? (query[2]! << 8) | query[3]! : 0;
  const flags = Flag.QR | (qflags & (0x7800 | Flag.RD | Flag.CD)) | extraFlags | (rcode & 0xf);
  out.writeUInt16BE(flags & 0xffff, 2);
  if (qlen) {
    out.writeUInt16BE(1, 4);
    out.set(query.subarray(HEADER_SIZE, HEADER_SIZE + qlen), HEADER_SIZE);
  }
  return out;
}
