/**
 * Cache keys straight from the query bytes: the question (name lower-cased, QTYPE and QCLASS as
 * sent) plus one byte for what else shapes the answer (transport, EDNS0 present, DO, CD). The
 * same key comes from `peekUdpQuery` (the cache-hit fast path, no parse) and from a parsed query
 * (the chain), so an answer stored by one is found by the other.
 */
import { Flag } from './wire.js';

const TCP = 1;
const EDNS = 2;
const DO = 4;
const CD = 8;
const scratch = Buffer.allocUnsafe(512);

/** The key byte for these facts. */
export function keyBits(tcp: boolean, edns: boolean, ednsDo: boolean, flags: number): number {
  return (tcp ? TCP : 0) | (edns ? EDNS : 0) | (ednsDo ? DO : 0) | (flags & Flag.CD ? CD : 0);
}

/**
 * The key of a query whose question name (from byte 12) is uncompressed and ends at
 * `questionEnd - 4`. Only the name is lower-cased: QTYPE 65 must not become 97.
 */
export function cacheKey(msg: Buffer, questionEnd: number, bits: number): string {
  const nameEnd = questionEnd - 4;
  let w = 0;
  for (let i = 12; i < nameEnd; i++) {
    const c = msg[i]!;
    scratch[w++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  }
  for (let i = nameEnd; i < questionEnd; i++) scratch[w++] = msg[i]!;
  scratch[w++] = bits;
  return scratch.toString('latin1', 0, w);
}

/** What the fast path learns from a UDP query without parsing it. */
export interface Peek {
  questionEnd: number;
  bits: number;
  /** Largest answer the client accepts over UDP. */
  limit: number;
}

/**
 * Fill `out` from a plain UDP query: QR 0, opcode 0, one question with an uncompressed name, no
 * answer or authority records, and either nothing after the question or exactly one root-owned
 * OPT. Anything else returns false and takes the full path (which parses, validates and answers
 * FORMERR/NOTIMP as before).
 */
export function peekUdpQuery(msg: Buffer, out: Peek): boolean {
  const len = msg.length;
  if (len < 17 || msg[2]! & 0xf8 || msg[4] !== 0 || msg[5] !== 1) return false;
  if (msg[6] !== 0 || msg[7] !== 0 || msg[8] !== 0 || msg[9] !== 0 || msg[10] !== 0 || msg[11]! > 1) return false;
  let off = 12;
  for (;;) {
    const l = msg[off]!;
    if (l === 0) break;
    if (l & 0xc0) return false; // a compression pointer or an unknown label type
    off += l + 1;
    if (off >= len || off - 12 > 254) return false;
  }
  const questionEnd = off + 5;
  const flags = msg[3]!;
  if (msg[11] === 0) {
    if (questionEnd !== len) return false;
    out.questionEnd = questionEnd;
    out.bits = keyBits(false, false, false, flags);
    out.limit = 512;
    return true;
  }
  // The lone additional record must be exactly an OPT owned by the root and filling the message.
  const o = questionEnd;
  if (o + 11 > len || msg[o] !== 0 || msg[o + 1] !== 0 || msg[o + 2] !== 41) return false;
  if (o + 11 + ((msg[o + 9]! << 8) | msg[o + 10]!) !== len) return false;
  out.questionEnd = questionEnd;
  out.bits = keyBits(false, true, (msg[o + 7]! & 0x80) !== 0, flags);
  out.limit = Math.max(512, (msg[o + 3]! << 8) | msg[o + 4]!);
  return true;
}
