/**
 * Address ownership: which addresses a literal-IP VIP or a virtual network may use. A VIP must lie
 * inside a configured VIP range; neither may touch loopback, link-local, multicast, the masters' and
 * agents' own addresses, or what another component claims (the overlay's subnets). Components add
 * their claims as functions, so the book always answers from current knowledge.
 */
import ipaddr from 'ipaddr.js';
import { ConfigError } from '../common/index.js';
import { NAMED_VIP_RANGES, type AddressClaim, type AddressOwnership } from '../contracts/index.js';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Addr, number];

export type { AddressClaim };

/** Never usable by a VIP or a virtual network. */
export const RESERVED_RANGES: readonly { what: string; cidr: string }[] = [
  { what: '"this network"', cidr: '0.0.0.0/8' },
  { what: 'loopback', cidr: '127.0.0.0/8' },
  { what: 'link-local', cidr: '169.254.0.0/16' },
  { what: 'multicast', cidr: '224.0.0.0/4' },
  { what: 'reserved/broadcast', cidr: '240.0.0.0/4' },
  { what: 'unspecified', cidr: '::/128' },
  { what: 'loopback', cidr: '::1/128' },
  { what: 'link-local', cidr: 'fe80::/10' },
  { what: 'multicast', cidr: 'ff00::/8' },
];

function range(cidr: string): Range | undefined {
  try {
    if (cidr.includes('/')) return ipaddr.parseCIDR(cidr);
    const a = ipaddr.parse(cidr);
    return [a, a.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return undefined;
  }
}

function contains(r: Range, a: Addr): boolean {
  return r[0].kind() === a.kind() && a.match(r as never);
}

function overlaps(a: Range, b: Range): boolean {
  return a[0].kind() === b[0].kind() && (contains(a, b[0]) || contains(b, a[0]));
}

/** `SEXTANT_VIP_RANGES=10.96.0.0/12,fd02::/64` -> the list; a bad entry is a ConfigError. */
export function parseVipRanges(text: string | undefined, field = 'SEXTANT_VIP_RANGES'): string[] {
  const out: string[] = [];
  for (const s of (text ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const r = range(s);
    if (!r || !s.includes('/')) throw new ConfigError(field, `'${s}' is not a CIDR`);
    const reserved = RESERVED_RANGES.find((x) => overlaps(range(x.cidr)!, r));
    if (reserved) throw new ConfigError(field, `${s} overlaps ${reserved.what} (${reserved.cidr})`);
    out.push(`${r[0].toString()}/${r[1]}`);
  }
  return out;
}

/**
 * `SEXTANT_VIP_V6_RANGE=fd02:c::/64`: where named VIPs get their IPv6 addresses (default
 * fd01:c::/64). One IPv6 CIDR, prefix /64 to /120, outside the reserved ranges; else a ConfigError.
 */
export function parseNamedVipV6Range(text: string | undefined, field = 'SEXTANT_VIP_V6_RANGE'): string {
  if (text === undefined || text.trim() === '') return NAMED_VIP_RANGES[1]!;
  const [cidr] = parseVipRanges(text, field);
  if (text.includes(',')) throw new ConfigError(field, `'${text.trim()}' is more than one CIDR (named VIPs take one IPv6 range)`);
  const r = range(cidr!)!;
  if (r[0].kind() !== 'ipv6') throw new ConfigError(field, `${cidr} is not an IPv6 range`);
  if (r[1] < 64 || r[1] > 120) throw new ConfigError(field, `${cidr}: the prefix must be /64 to /120`);
  return cidr!;
}

export class AddressBook implements AddressOwnership {
  readonly vipRanges: readonly string[];
  readonly namedVipRanges: { readonly 4: string; readonly 6: string };
  private readonly ranges: Range[];
  private readonly sources = new Set<() => AddressClaim[]>();

  /** `extraVipRanges` are added to the named-VIP ranges; `namedV6` replaces fd01:c::/64 (SEXTANT_VIP_V6_RANGE). */
  constructor(extraVipRanges: readonly string[] = [], namedV6: string = NAMED_VIP_RANGES[1]!) {
    this.namedVipRanges = { 4: NAMED_VIP_RANGES[0]!, 6: namedV6 };
    this.vipRanges = [...new Set([this.namedVipRanges[4], namedV6, ...extraVipRanges])];
    this.ranges = this.vipRanges.map((c) => range(c)!);
  }

  /** Add a source of claims (read at every check); returns its removal. */
  claim(source: () => AddressClaim[]): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  claims(): AddressClaim[] {
    return [...this.sources].flatMap((s) => s());
  }

  /** Names of the virtual networks tasks may join (claims that name a network), sorted. */
  networks(): string[] {
    return [...new Set(this.claims().flatMap((c) => (c.network ? [c.network] : [])))].sort();
  }

  /** Why `ip` cannot be a literal VIP, or undefined when it may. */
  vipRefusal(ip: string): string | undefined {
    let a: Addr;
    try {
      a = ipaddr.parse(ip);
    } catch {
      return `${ip} is not an IP address`;
    }
    if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) a = (a as ipaddr.IPv6).toIPv4Address();
    for (const r of RESERVED_RANGES) if (contains(range(r.cidr)!, a)) return `${ip} is ${r.what} (${r.cidr})`;
    for (const c of this.claims()) {
      const r = range(c.cidr);
      if (r && contains(r, a)) return `${ip} belongs to ${c.what}`;
    }
    if (!this.ranges.some((r) => contains(r, a))) return `${ip} is outside the VIP ranges (${this.vipRanges.join(', ')}; add ranges with SEXTANT_VIP_RANGES)`;
    return undefined;
  }

  /** Why a node (agent) may not use `ip`: multicast or unspecified, a VIP range, an overlay subnet. Loopback is fine (`sextant up`). */
  nodeRefusal(ip: string): string | undefined {
    let a: Addr;
    try {
      a = ipaddr.parse(ip);
    } catch {
      return `${ip} is not an IP address`;
    }
    for (const r of RESERVED_RANGES) if (r.what !== 'loopback' && r.what !== 'link-local' && contains(range(r.cidr)!, a)) return `${ip} is ${r.what} (${r.cidr})`;
    for (const [i, v] of this.ranges.entries()) if (contains(v, a)) return `${ip} is inside the VIP range ${this.vipRanges[i]}`;
    for (const c of this.claims()) {
      const r = range(c.cidr);
      if (c.kind === 'overlay' && r && contains(r, a)) return `${ip} belongs to ${c.what}`;
    }
    return undefined;
  }

  /** Why `cidr` cannot be a virtual network's subnet, or undefined. `skip` leaves claims out (the network itself). */
  subnetRefusal(cidr: string, skip: (c: AddressClaim) => boolean = () => false): string | undefined {
    const r = range(cidr);
    if (!r) return `${cidr} is not a CIDR`;
    for (const x of RESERVED_RANGES) if (overlaps(range(x.cidr)!, r)) return `${cidr} overlaps ${x.what} (${x.cidr})`;
    for (const [i, v] of this.ranges.entries()) if (overlaps(v, r)) return `${cidr} overlaps the VIP range ${this.vipRanges[i]}`;
    for (const c of this.claims()) {
      if (skip(c)) continue;
      const o = range(c.cidr);
      if (o && overlaps(o, r)) return `${cidr} overlaps ${c.what}${c.what.includes(c.cidr) ? '' : ` (${c.cidr})`}`;
    }
    return undefined;
  }
}
