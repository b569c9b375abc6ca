/**
 * IPv4 and IPv6 prefixes for the overlay allocator and the CNI IPAM. ipaddr.js checks, parses and
 * prints addresses (IPv4 only as a plain dotted quad: its loose parser would also take `10` or
 * `0x0a.1`; IPv6 without a zone); the arithmetic is on bigint, so both families share one code
 * path. Imports only ipaddr.js (no node:net): the CNI bundle carries this file.
 */
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** Network address (host bits cleared). */
  base: bigint;
  len: number;
}

export const familyBits = (f: Family): number => (f === 4 ? 32 : 128);

/** An address as family and number; undefined when `s` is not a plain IPv4 or IPv6 address. */
export function parseIp(s: string): { family: Family; value: bigint } | undefined {
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) a = ipaddr.IPv4.parse(s);
  else if (!s.includes('%') && ipaddr.IPv6.isValid(s)) a = ipaddr.IPv6.parse(s);
  else return undefined;
  return { family: a.kind() === 'ipv4' ? 4 : 6, value: a.toByteArray().reduce((acc, b) => (acc << 8n) | BigInt(b), 0n) };
}

/** IPv4 only (the CNI IPAM): the address as a number, or undefined. */
export function parseIp4(s: string): bigint | undefined {
  const ip = parseIp(s);
  return ip?.family === 4 ? ip.value : undefined;
}

/** The text of an address (IPv6 compressed as RFC 5952 says). */
export function formatIp(family: Family, value: bigint): string {
  const n = familyBits(family) / 8;
  const bytes: number[] = [];
  for (let i = n - 1; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 255n));
  return ipaddr.fromByteArray(bytes).toString();
}

export const formatIp4 = (value: bigint): string => formatIp(4, value);

const allOnes = (f: Family): bigint => (1n << BigInt(familyBits(f))) - 1n;
const hostMask = (f: Family, len: number): bigint => (1n << BigInt(familyBits(f) - len)) - 1n;

/** Parse `ip/len`. `strict` (default): host bits must be zero; otherwise they are cleared (`9.0.1.7/24` is 9.0.1.0/24). */
export function parseCidr(s: string, strict = true): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const ip = parseIp(m[1]!);
  const len = Number(m[2]);
  if (!ip || len > familyBits(ip.family)) return undefined;
  const mask = hostMask(ip.family, len);
  if (strict && (ip.value & mask) !== 0n) return undefined;
  return { family: ip.family, base: ip.value & ~mask & allOnes(ip.family), len };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.base)}/${c.len}`;
}

/** How many addresses the prefix holds. */
export function size(c: Cidr): bigint {
  return 1n << BigInt(familyBits(c.family) - c.len);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const m = ~hostMask(a.family, Math.min(a.len, b.len));
  return (a.base & m) === (b.base & m);
}

/** Whether the address (a number of the prefix's family) is inside the prefix. */
export function contains(c: Cidr, ip: bigint): boolean {
  return ip >= c.base && ip < c.base + size(c);
}

/** The i-th sub-prefix of length `len` inside `c`. */
export function subnetAt(c: Cidr, len: number, i: bigint): Cidr {
  return { family: c.family, base: c.base + i * (1n << BigInt(familyBits(c.family) - len)), len };
}

/** How many /len fit into c. */
export function subnetCount(c: Cidr, len: number): bigint {
  return 1n << BigInt(len - c.len);
}

/** The two halves of a prefix (DC/OS: first for the `m-<net>` bridge, second reserved). */
export function halves(c: Cidr): [Cidr, Cidr] {
  return [subnetAt(c, c.len + 1, 0n), subnetAt(c, c.len + 1, 1n)];
}

/** Host address `n` inside `c`, as `ip/len` (e.g. the gateway: n = 1). */
export function hostAddr(c: Cidr, n: bigint): string {
  return `${formatIp(c.family, c.base + n)}/${c.len}`;
}

/** First and last usable host: the network address and the last one (IPv4 broadcast) are left out, except in prefixes of 1 or 2 addresses. */
export function hostRange(c: Cidr): { first: bigint; last: bigint } {
  const n = size(c);
  if (n <= 2n) return { first: c.base, last: c.base + n - 1n };
  return { first: c.base + 1n, last: c.base + n - 2n };
}
