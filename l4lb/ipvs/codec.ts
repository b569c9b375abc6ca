/**
 * Pure encoding and decoding of IPVS generic netlink payloads (the part after the genl header):
 * netlink attributes (TLV, 4-byte aligned) holding a nested service and/or destination.
 */
import ipaddr from 'ipaddr.js';
import type { Protocol } from '../../contracts/index.js';
import { AF_INET, AF_INET6, CmdAttr, DestAttr, Fwd, IPPROTO_TCP, IPPROTO_UDP, NLA_F_NESTED, SvcAttr } from './constants.js';
import { IpvsCodecError } from './errors.js';

/** A virtual service as the kernel knows it. `sched` is set in dumps and full (create/set) entries. */
export interface IpvsService {
  protocol: Protocol;
  addr: string;
  port: number;
  sched?: string;
}

export interface IpvsDest {
  addr: string;
  port: number;
  weight: number;
  /** Forwarding method (constants.Fwd); masquerade unless told otherwise. */
  fwd?: number;
  activeConns?: number;
  inactConns?: number;
}

const align = (n: number) => (n + 3) & ~3;

export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc(align(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const be16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};

export function familyOf(ip: string): number {
  return ip.includes(':') ? AF_INET6 : AF_INET;
}

/** Address as `union nf_inet_addr` (16 bytes, IPv4 in the first four). */
export function addrBytes(ip: string): Buffer {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(ip);
  } catch {
    throw new IpvsCodecError(`not an IP address: ${JSON.stringify(ip)}`);
  }
  const out = Buffer.alloc(16);
  Buffer.from(parsed.toByteArray()).copy(out);
  return out;
}

function addrText(b: Buffer, af: number): string {
  if (af === AF_INET && b.length >= 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (af === AF_INET6 && b.length >= 16) return ipaddr.fromByteArray([...b.subarray(0, 16)]).toString();
  throw new IpvsCodecError(`address of ${b.length} bytes for family ${af}`);
}

function protoNumber(p: Protocol): number {
  return p === 'udp' ? IPPROTO_UDP : IPPROTO_TCP;
}

function protoName(n: number): Protocol {
  if (n === IPPROTO_TCP) return 'tcp';
  if (n === IPPROTO_UDP) return 'udp';
  throw new IpvsCodecError(`protocol ${n} is neither tcp nor udp`);
}

/**
 * CmdAttr.SERVICE. The identity (family, protocol, address, port) always; `full` adds what the
 * kernel requires to create or set one (scheduler, flags, persistence timeout, netmask).
 */
export function serviceAttr(s: IpvsService, full: boolean): Buffer {
  const af = familyOf(s.addr);
  const parts = [attr(SvcAttr.AF, u16(af)), attr(SvcAttr.PROTOCOL, u16(protoNumber(s.protocol))), attr(SvcAttr.ADDR, addrBytes(s.addr)), attr(SvcAttr.PORT, be16(s.port))];
  if (full) {
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE(0xffffffff, 4); // mask: every flag is ours to set (to zero)
    parts.push(attr(SvcAttr.SCHED_NAME, Buffer.from(`${s.sched ?? 'wlc'}\0`)), attr(SvcAttr.FLAGS, flags), attr(SvcAttr.TIMEOUT, u32(0)), attr(SvcAttr.NETMASK, u32(af === AF_INET ? 0xffffffff : 128)));
  }
  return attr(CmdAttr.SERVICE | NLA_F_NESTED, Buffer.concat(parts));
}

/** CmdAttr.DEST: address and port always; `full` adds forwarding, weight and thresholds. */
export function destAttr(d: IpvsDest, full: boolean): Buffer {
  const parts = [attr(DestAttr.ADDR, addrBytes(d.addr)), attr(DestAttr.PORT, be16(d.port))];
  if (full) {
    parts.push(attr(DestAttr.FWD_METHOD, u32(d.fwd ?? Fwd.MASQ)), attr(DestAttr.WEIGHT, u32(d.weight)), attr(DestAttr.U_THRESH, u32(0)), attr(DestAttr.L_THRESH, u32(0)), attr(DestAttr.ADDR_FAMILY, u16(familyOf(d.addr))));
  }
  return attr(CmdAttr.DEST | NLA_F_NESTED, Buffer.concat(parts));
}

/** Attributes of one level, by type (the nested flag stripped); rejects truncated input. */
export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4 || off + len > buf.length) throw new IpvsCodecError(`attribute ${type} at ${off} has length ${len}, ${buf.length - off} bytes left`);
    out.set(type, buf.subarray(off + 4, off + len));
    off += align(len);
  }
  return out;
}

function need(m: Map<number, Buffer>, type: number, what: string, size: number): Buffer {
  const b = m.get(type);
  if (!b || b.length < size) throw new IpvsCodecError(`${what}: missing or short attribute ${type}`);
  return b;
}

/** One GET_SERVICE dump message; undefined for fwmark services (not ours: they have no address). */
export function decodeService(payload: Buffer): IpvsService | undefined {
  const nested = parseAttrs(payload).get(CmdAttr.SERVICE);
  if (!nested) throw new IpvsCodecError('service message without a service attribute');
  const a = parseAttrs(nested);
  if (a.has(SvcAttr.FWMARK) && !a.has(SvcAttr.ADDR)) return undefined;
  const af = need(a, SvcAttr.AF, 'service', 2).readUInt16LE();
  const sched = a.get(SvcAttr.SCHED_NAME);
  return {
    protocol: protoName(need(a, SvcAttr.PROTOCOL, 'service', 2).readUInt16LE()),
    addr: addrText(need(a, SvcAttr.ADDR, 'service', 4), af),
    port: need(a, SvcAttr.PORT, 'service', 2).readUInt16BE(),
    ...(sched ? { sched: sched.toString('latin1').replace(/\0.*$/s, '') } : {}),
  };
}

/** One GET_DEST dump message; `svcAf` is the service's family (older kernels omit the dest's). */
export function decodeDest(payload: Buffer, svcAf: number): IpvsDest {
  const nested = parseAttrs(payload).get(CmdAttr.DEST);
  if (!nested) throw new IpvsCodecError('destination message without a destination attribute');
  const a = parseAttrs(nested);
  const af = a.get(DestAttr.ADDR_FAMILY)?.readUInt16LE() ?? svcAf;
  const opt = (t: number) => (a.get(t)?.length ?? 0) >= 4 ? a.get(t)!.readUInt32LE() : undefined;
  const d: IpvsDest = {
    addr: addrText(need(a, DestAttr.ADDR, 'destination', 4), af),
    port: need(a, DestAttr.PORT, 'destination', 2).readUInt16BE(),
    weight: need(a, DestAttr.WEIGHT, 'destination', 4).readInt32LE(),
  };
  const fwd = opt(DestAttr.FWD_METHOD);
  if (fwd !== undefined) d.fwd = fwd & 0x7;
  const act = opt(DestAttr.ACTIVE_CONNS);
  if (act !== undefined) d.activeConns = act;
  const inact = opt(DestAttr.INACT_CONNS);
  if (inact !== undefined) d.inactConns = inact;
  return d;
}
