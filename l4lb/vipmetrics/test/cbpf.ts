/**
 * A classic BPF interpreter for tests: runs a socket filter's instructions on a packet's bytes as
 * the kernel would (linux/filter.h semantics: A and X registers, 16 words of scratch memory, loads
 * in network byte order, an out-of-bounds load ends the program with 0, jumps only forward),
 * including the netlink-attribute ancillary load (SKF_AD_NLATTR: the kernel's nla_find from
 * offset A for type X, attributes' headers in host order). Opcodes it does not know throw.
 */
import { endianness } from 'node:os';
import type { SockFilter } from '../ct-filter.js';

const SKF_AD_OFF = -0x1000 >>> 0;
const SKF_AD_NLATTR = 12;
const NLA_TYPE_MASK = ~(0x8000 | 0x4000) & 0xffff;

/** The kernel's nla_find over `pkt` from `a`: the offset of the first attribute of type `x`, 0 when none. */
function nlattr(pkt: Buffer, a: number, x: number): number {
  if (pkt.length < 4 || a > pkt.length - 4) return 0;
  const u16 = (o: number) => (endianness() === 'LE' ? pkt.readUInt16LE(o) : pkt.readUInt16BE(o));
  let at = a;
  let rem = pkt.length - a;
  while (rem >= 4) {
    const len = u16(at);
    if (len < 4 || len > rem) break;
    if ((u16(at + 2) & NLA_TYPE_MASK) === x) return at;
    const step = (len + 3) & ~3;
    at += step;
    rem -= step;
  }
  return 0;
}

/** What the filter returns for `pkt`: how many bytes to keep (0: drop). */
export function runFilter(prog: SockFilter[], pkt: Buffer): number {
  let A = 0;
  let X = 0;
  const M = new Array<number>(16).fill(0);
  const load = (at: number, size: number): number | undefined => {
    if (at < 0 || at + size > pkt.length) return undefined;
    return size === 4 ? pkt.readUInt32BE(at) : size === 2 ? pkt.readUInt16BE(at) : pkt[at]!;
  };
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, jt, jf, k } = prog[pc]!;
    const cls = code & 0x07;
    const size = [4, 2, 1][(code & 0x18) >> 3]!;
    const mode = code & 0xe0;
    switch (cls) {
      case 0x00: // LD
      case 0x01: {
        // LDX
        let v: number | undefined;
        if (mode === 0x00) v = k; // IMM
        else if (mode === 0x80) v = pkt.length; // LEN
        else if (mode === 0x60) v = M[k]; // MEM
        else if (cls === 0x00 && mode === 0x20 && k >= SKF_AD_OFF) {
          if (k - SKF_AD_OFF !== SKF_AD_NLATTR) throw new Error(`ancillary load ${k - SKF_AD_OFF} not implemented`);
          v = nlattr(pkt, A, X);
        } else if (cls === 0x00 && mode === 0x20) v = load(k, size); // ABS
        else if (cls === 0x00 && mode === 0x40) v = load((X + k) >>> 0, size); // IND
        else if (cls === 0x01 && mode === 0xa0) v = ((load(k, 1) ?? 0) & 0xf) << 2; // MSH
        else throw new Error(`opcode 0x${code.toString(16)} not implemented`);
        if (v === undefined) return 0;
        if (cls === 0x00) A = v >>> 0;
        else X = v >>> 0;
        break;
      }
      case 0x02:
        M[k] = A;
        break;
      case 0x03:
        M[k] = X;
        break;
      case 0x04: {
        // ALU
        const v = code & 0x08 ? X : k;
        const op = code & 0xf0;
        if (op === 0x00) A = (A + v) >>> 0;
        else if (op === 0x10) A = (A - v) >>> 0;
        else if (op === 0x50) A = (A & v) >>> 0;
        else if (op === 0x40) A = (A | v) >>> 0;
        else if (op === 0x60) A = (A << v) >>> 0;
        else if (op === 0x70) A = A >>> v;
        else throw new Error(`ALU opcode 0x${code.toString(16)} not implemented`);
        break;
      }
      case 0x05: {
        // JMP
        const op = code & 0xf0;
        if (op === 0x00) {
          pc += k;
          break;
        }
        const v = code & 0x08 ? X : k;
        const taken = op === 0x10 ? A === v : op === 0x20 ? A > v : op === 0x30 ? A >= v : op === 0x40 ? (A & v) !== 0 : undefined;
        if (taken === undefined) throw new Error(`JMP opcode 0x${code.toString(16)} not implemented`);
        pc += taken ? jt : jf;
        break;
      }
      case 0x06: // RET
        return (code & 0x18) === 0x10 ? A : k;
      case 0x07: // MISC
        if ((code & 0xf8) === 0x00) X = A; // TAX
        else A = X; // TXA
        break;
    }
  }
  throw new Error('the program ran off its end (the kernel refuses such a program)');
}
