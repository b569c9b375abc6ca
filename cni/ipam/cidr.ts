/**
 * IPv4 arithmetic for the allocator (pure; addresses as unsigned 32-bit numbers).
 */
export interface Cidr {
  /** Network address. */
  base: number;
  prefix: number;
}

export function parseIp4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function formatIp4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `9.0.1.0/24` (host bits are cleared: `9.0.1.7/24` is the same network). */
export function parseCidr(s: string): Cidr | undefined {
  const [ip, len, extra] = s.split('/');
  if (extra !== undefined || ip === undefined || len === undefined || !/^\d{1,2}$/.test(len)) return undefined;
  const addr = parseIp4(ip);
  const prefix = Number(len);
  if (addr === undefined || prefix > 32) return undefined;
  return { base: (addr & mask(prefix)) >>> 0, prefix };
}

export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp4(c.base)}/${c.prefix}`;
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

/** First and last usable host (network and broadcast excluded below /31). */
export function hostRange(c: Cidr): { first: number; last: number } {
  const size = 2 ** (32 - c.prefix);
  if (size <= 2) return { first: c.base, last: c.base + size - 1 };
  return { first: c.base + 1, last: c.base + size - 2 };
}
