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

export class AddressBook implements AddressOwnership {
  readonly vipRanges: readonly string[];
  private readonly ranges: Range[];
  private readonly sources = new Set<() => AddressClaim[]>();

  /** `extraVipRanges` are added to the named-VIP ranges. */
  constructor(extraVipRanges: readonly string[] = []) {
    this.vipRanges = [...NAMED_VIP_RANGES, ...extraVipRanges];
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
