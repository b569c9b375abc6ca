/**
 * A classic BPF socket filter (SO_ATTACH_FILTER) for the conntrack destroy-event socket
 * (ct-bytes.ts): the kernel multicasts a destroy event for every connection of the namespace and
 * cannot select them by ct mark, so without a filter the agent reads, parses and drops every
 * non-VIP connection's event. The filter runs in the kernel on each event before it is queued
 * and keeps only ctnetlink destroy messages whose CTA_MARK has all the bits of `mark` (the bit
 * the metrics table sets on the VIP connections it counted): the rest never reach the socket's
 * buffer, nor this process.
 *
 * The program: check the netlink header's type (ctnetlink, IPCTNL_MSG_CT_DELETE), then find
 * CTA_MARK among the attributes after the netlink header and the nfgenmsg with the kernel's
 * netlink-attribute walker (the ancillary load SKF_AD_NLATTR: A = offset of the first attribute
 * of type X at or after offset A, 0 when there is none; classic BPF has no backward jumps, so it
 * cannot loop over the TLVs itself), load the mark (network order, as BPF loads words) and test
 * its bits. A message without CTA_MARK (the kernel leaves it out when the mark is 0) is dropped.
 * sock_filter fields are in host byte order (linux/filter.h); the message's own nlmsg_type too.
 */
import { endianness } from 'node:os';

// linux/bpf_common.h, linux/filter.h
const BPF_LD = 0x00;
const BPF_LDX = 0x01;
const BPF_ALU = 0x04;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_MISC = 0x07;
const BPF_W = 0x00;
const BPF_H = 0x08;
const BPF_IMM = 0x00;
const BPF_ABS = 0x20;
const BPF_IND = 0x40;
const BPF_AND = 0x50;
const BPF_JEQ = 0x10;
const BPF_K = 0x00;
const BPF_TAX = 0x00;
const SKF_AD_OFF = -0x1000;
const SKF_AD_NLATTR = 12;

// linux/netlink.h, linux/netfilter/nfnetlink.h, nfnetlink_conntrack.h
const NLMSG_HDRLEN = 16;
const NFGENMSG_LEN = 4;
const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_DELETE = 2;
const CTA_MARK = 8;

/** One instruction: opcode, jump offsets when true and false, constant. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Jump offsets count from the next instruction. */
const insn = (code: number, k = 0, jt = 0, jf = 0): SockFilter => ({ code, jt, jf, k: k >>> 0 });

/** A u16 as a big-endian halfword load (`ldh`) reads it when it is stored in this machine's byte order. */
function asLoaded16(v: number): number {
  const b = Buffer.alloc(2);
  if (endianness() === 'LE') b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b.readUInt16BE(0);
}

/** The filter's instructions: keep ctnetlink destroy events whose ct mark has every bit of `mark`. */
export function destroyEventProgram(mark: number): SockFilter[] {
  if (!Number.isInteger(mark) || mark <= 0 || mark > 0xffffffff) throw new RangeError(`ct mark bits must be a non-zero u32, not ${mark}`);
  const KEEP = 0xffffffff; // the whole message
  return [
    /* 0 */ insn(BPF_LD | BPF_H | BPF_ABS, 4), // A = nlmsg_type
    /* 1 */ insn(BPF_JMP | BPF_JEQ | BPF_K, asLoaded16((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE), 0, 9), // not a destroy: drop (11)
    /* 2 */ insn(BPF_LD | BPF_IMM, NLMSG_HDRLEN + NFGENMSG_LEN), // A = the first attribute
    /* 3 */ insn(BPF_LDX | BPF_IMM, CTA_MARK), // X = the type to find
    /* 4 */ insn(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_NLATTR), // A = offset of CTA_MARK, or 0
    /* 5 */ insn(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0), // none: drop (11)
    /* 6 */ insn(BPF_MISC | BPF_TAX), // X = its offset
    /* 7 */ insn(BPF_LD | BPF_W | BPF_IND, 4), // A = its value (after the 4-byte nlattr header)
    /* 8 */ insn(BPF_ALU | BPF_AND | BPF_K, mark),
    /* 9 */ insn(BPF_JMP | BPF_JEQ | BPF_K, mark, 0, 1), // every bit set: keep (10), else drop (11)
    /* 10 */ insn(BPF_RET | BPF_K, KEEP),
    /* 11 */ insn(BPF_RET | BPF_K, 0),
  ];
}

/** Instructions as the bytes of a `struct sock_filter[]` (8 bytes each, host byte order): what SO_ATTACH_FILTER takes. */
export function encodeFilter(prog: SockFilter[]): Buffer {
  const b = Buffer.alloc(prog.length * 8);
  const le = endianness() === 'LE';
  prog.forEach((p, i) => {
    const o = i * 8;
    if (le) {
      b.writeUInt16LE(p.code, o);
      b.writeUInt32LE(p.k, o + 4);
    } else {
      b.writeUInt16BE(p.code, o);
      b.writeUInt32BE(p.k, o + 4);
    }
    b[o + 2] = p.jt;
    b[o + 3] = p.jf;
  });
  return b;
}

/** The socket filter for the destroy-event socket, ready for SO_ATTACH_FILTER. */
export const destroyEventFilter = (mark: number): Buffer => encodeFilter(destroyEventProgram(mark));
