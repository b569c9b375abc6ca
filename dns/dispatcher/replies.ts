/** Small error answers built from the query bytes (dns/wire's errorReply, with RA: we recurse). */
import { Flag, wireErrorReply, type Query } from './wire.js';

/** An answer with `rcode` echoing the question. */
export function errorReply(query: Buffer, q: Query, rcode: number): Buffer {
  return wireErrorReply(query, q, rcode, Flag.RA);
}

/** FORMERR for a packet whose question could not be read: header only, or nothing (no ID, or a response: no loops). */
export function formErr(packet: Buffer): Buffer | undefined {
  if (packet.length < 12 || packet[2]! & 0x80) return undefined;
  return wireErrorReply(packet, undefined, 1, Flag.RA);
}

/** The rcode of a message. */
export function rcodeOf(msg: Buffer): number {
  return msg[3]! & 0xf;
}
