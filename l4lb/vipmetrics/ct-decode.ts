/**
 * ctnetlink messages (conntrack over NETLINK_NETFILTER, uapi nfnetlink_conntrack.h) for the nftables
 * driver's VIP byte counts: the dump request for the connections the metrics table marked, and the
 * flows read back from a dump's replies or from destroy events: original tuple (the VIP), reply
 * tuple's source (the backend, after DNAT), the accounting counters (`nf_conntrack_acct`), id,
 * status and mark. Pure functions over Buffers (unit-tested in test/parsers.test.ts).
 */
import ipaddr from 'ipaddr.js';
import { Writer } from '../nft/encode.js';
import { attrs, nlMessages, type NlMsg } from '../nft/decode.js';

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_NEW = 0;
const IPCTNL_MSG_CT_GET = 1;
const IPCTNL_MSG_CT_DELETE = 2;
/** The multicast group of conntrack destroy events (NFNLGRP_CONNTRACK_DESTROY) as a bind() bitmask. */
export const DESTROY_GROUP_MASK = 1 << (3 - 1);

const CTA_TUPLE_ORIG = 1;
const CTA_TUPLE_REPLY = 2;
const CTA_STATUS = 3;
const CTA_MARK = 8;
const CTA_COUNTERS_ORIG = 9;
const CTA_COUNTERS_REPLY = 10;
const CTA_ID = 12;
const CTA_MARK_MASK = 21;
const CTA_TUPLE_IP = 1;
const CTA_TUPLE_PROTO = 2;
const CTA_IP_V4_SRC = 1;
const CTA_IP_V4_DST = 2;
const CTA_IP_V6_SRC = 3;
const CTA_IP_V6_DST = 4;
const CTA_PROTO_NUM = 1;
const CTA_PROTO_SRC_PORT = 2;
const CTA_PROTO_DST_PORT = 3;
const CTA_COUNTERS_BYTES = 2;
const CTA_COUNTERS32_BYTES = 4;
/** `ct status dnat` (IPS_DST_NAT). */
export const IPS_DST_NAT = 1 << 5;

const PROTO: Record<number, 'tcp' | 'udp'> = { 6: 'tcp', 17: 'udp' };

/** One connection as conntrack describes it. */
export interface CtFlow {
  /** conntrack's id (CTA_ID): tells a destroyed flow from a live one across a dump and events. */
  id: number;
  family: 4 | 6;
  protocol: 'tcp' | 'udp';
  /** The original destination (the VIP, before DNAT). */
  vipIp: string;
  vipPort: number;
  /** The reply's source (the backend the connection was DNAT'd to). */
  backendIp: string;
  backendPort: number;
  /** IP bytes both ways (0 without accounting). */
  bytes: number;
  status: number;
  /** Absent when the message carries none. */
  mark?: number;
  /** A destroy event (the connection ended; its counters are final). */
  destroyed: boolean;
}

/** A dump of every connection whose mark has all of `mark`'s bits (the kernel filters), both families. */
export function dumpRequest(seq: number, mark: number): Buffer {
  const w = new Writer(64);
  const at = w.beginMsg((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq, 0, 0);
  w.u32be(CTA_MARK, mark);
  w.u32be(CTA_MARK_MASK, mark);
  w.endMsg(at);
  return Buffer.from(w.buf.subarray(0, w.len));
}

/**
 * Delete every connection of the namespace, both families (tests and benchmarks: their destroy
 * events are sent at once, where conntrack's garbage collector would send them over seconds).
 */
export function flushRequest(seq: number): Buffer {
  const w = new Writer(32);
  const at = w.beginMsg((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, 0, 0);
  w.endMsg(at);
  return Buffer.from(w.buf.subarray(0, w.len));
}

/** The errno of an NLMSG_ERROR message (0: an ack). */
export const errorOf = (m: NlMsg): number => (m.body.length >= 4 ? -m.body.readInt32LE(0) : 0);

interface Tuple {
  src?: string;
  dst?: string;
  proto?: number;
  sport?: number;
  dport?: number;
  v6?: boolean;
}

function tuple(b: Buffer): Tuple {
  const t: Tuple = {};
  for (const [type, v] of attrs(b, 0)) {
    if (type === CTA_TUPLE_IP)
      for (const [k, a] of attrs(v, 0)) {
        if (k === CTA_IP_V4_SRC || k === CTA_IP_V4_DST) {
          const s = `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
          if (k === CTA_IP_V4_SRC) t.src = s;
          else t.dst = s;
        } else if ((k === CTA_IP_V6_SRC || k === CTA_IP_V6_DST) && a.length >= 16) {
          const s = ipaddr.fromByteArray([...a.subarray(0, 16)]).toString();
          t.v6 = true;
          if (k === CTA_IP_V6_SRC) t.src = s;
          else t.dst = s;
        }
      }
    else if (type === CTA_TUPLE_PROTO)
      for (const [k, a] of attrs(v, 0)) {
        if (k === CTA_PROTO_NUM) t.proto = a[0];
        else if (k === CTA_PROTO_SRC_PORT) t.sport = a.readUInt16BE(0);
        else if (k === CTA_PROTO_DST_PORT) t.dport = a.readUInt16BE(0);
      }
  }
  return t;
}

function counterBytes(b: Buffer): number {
  for (const [k, v] of attrs(b, 0)) {
    if (k === CTA_COUNTERS_BYTES && v.length >= 8) return Number(v.readBigUInt64BE(0));
    if (k === CTA_COUNTERS32_BYTES && v.length >= 4) return v.readUInt32BE(0);
  }
  return 0;
}

/**
 * The TCP and UDP flows in ctnetlink messages (dump replies: CT_NEW; events: CT_NEW and CT_DELETE).
 * Anything else (other protocols, messages missing a tuple, errors) is skipped; `errors` gets the
 * errno of each error reply.
 */
export function parseFlows(buf: Buffer, errors?: number[]): CtFlow[] {
  const out: CtFlow[] = [];
  for (const m of nlMessages(buf)) {
    if (m.type === NLMSG_ERROR) {
      const e = errorOf(m);
      if (e) errors?.push(e);
      continue;
    }
    if (m.type >> 8 !== NFNL_SUBSYS_CTNETLINK) continue;
    const msg = m.type & 0xff;
    if (msg !== IPCTNL_MSG_CT_NEW && msg !== IPCTNL_MSG_CT_DELETE) continue;
    let orig: Tuple | undefined;
    let reply: Tuple | undefined;
    let bytes = 0;
    let id = 0;
    let status = 0;
    let mark: number | undefined;
    // After the 4-byte nfgenmsg.
    for (const [type, v] of attrs(m.body, 4)) {
      if (type === CTA_TUPLE_ORIG) orig = tuple(v);
      else if (type === CTA_TUPLE_REPLY) reply = tuple(v);
      else if (type === CTA_COUNTERS_ORIG || type === CTA_COUNTERS_REPLY) bytes += counterBytes(v);
      else if (type === CTA_ID && v.length >= 4) id = v.readUInt32BE(0);
      else if (type === CTA_STATUS && v.length >= 4) status = v.readUInt32BE(0);
      else if (type === CTA_MARK && v.length >= 4) mark = v.readUInt32BE(0);
    }
    const protocol = PROTO[orig?.proto ?? -1];
    if (!orig?.dst || !reply?.src || !protocol || orig.dport === undefined || reply.sport === undefined) continue;
    out.push({
      id,
      family: orig.v6 ? 6 : 4,
      protocol,
      vipIp: orig.dst,
      vipPort: orig.dport,
      backendIp: reply.src,
      backendPort: reply.sport,
      bytes,
      status,
      ...(mark === undefined ? {} : { mark }),
      destroyed: msg === IPCTNL_MSG_CT_DELETE,
    });
  }
  return out;
}
