/** DNS numbers (RFC 1035, 2782, 3596, 6891) used by Sextant's wire code. */
export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  AXFR: 252,
  ANY: 255,
} as const;
export type RRTypeName = keyof typeof RRType;

export const RRClass = { IN: 1, CH: 3, ANY: 255 } as const;

export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** Header flag bits (the 16-bit word after the ID). */
export const Flag = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;

export const HEADER_SIZE = 12;
/** Classic UDP limit without EDNS0. */
export const UDP_LIMIT = 512;
export const TCP_LIMIT = 65535;
export const MAX_NAME_WIRE = 255;
export const MAX_LABEL = 63;

const typeNames = new Map<number, string>(Object.entries(RRType).map(([k, v]) => [v, k]));
export function typeName(t: number): string {
  return typeNames.get(t) ?? `TYPE${t}`;
}
const rcodeNames = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));
export function rcodeName(r: number): string {
  return rcodeNames.get(r) ?? `RCODE${r}`;
}
