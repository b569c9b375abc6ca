/**
 * Address arithmetic for IPv4 and IPv6 prefixes, on bigint so both families share one code path.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  family: 4 | 6;
  /** Network address (host bits cleared). */
  base: bigint;
  len: number;
}

const bits = (f: 4 | 6): number => (f === 4 ? 32 : 128);

export function parseIp(ip: string): { family: 4 | 6; value: bigint } | undefined {
  if (isIPv4(ip)) {
    const v = ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
    return { family: 4, value: v };
  }
  if (isIPv6(ip)) {
    const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    if (groups.length !== 8 || groups.some((g) => g.includes('.'))) return undefined;
    return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
  }
  return undefined;
}

export function formatIp(family: 4 | 6, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => ((v >> s) & 255n).toString()).join('.');
  const g: string[] = [];
  for (let i = 7; i >= 0; i--) g.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}

/** Parse `a.b.c.d/n`; with `strict`, host bits must be zero. */
export function parseCidr(s: string, strict = true): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const ip = parseIp(m[1]!);
  const len = Number(m[2]);
  if (!ip || len > bits(ip.family)) return undefined;
  const mask = hostMask(ip.family, len);
  if (strict && (ip.value & mask) !== 0n) return undefined;
  return { family: ip.family, base: ip.value & ~mask & allOnes(ip.family), len };
}

function allOnes(f: 4 | 6): bigint {
  return (1n << BigInt(bits(f))) - 1n;
}

function hostMask(f: 4 | 6, len: number): bigint {
  return (1n << BigInt(bits(f) - len)) - 1n;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.base)}/${c.len}`;
}

export function size(c: Cidr): bigint {
  return 1n << BigInt(bits(c.family) - c.len);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const len = Math.min(a.len, b.len);
  const m = ~hostMask(a.family, len);
  return (a.base & m) === (b.base & m);
}

export function contains(outer: Cidr, ip: bigint): boolean {
  return ip >= outer.base && ip < outer.base + size(outer);
}

/** The i-th sub-prefix of length `len` inside `c`. */
export function subnetAt(c: Cidr, len: number, i: bigint): Cidr {
  return { family: c.family, base: c.base + i * (1n << BigInt(bits(c.family) - len)), len };
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
