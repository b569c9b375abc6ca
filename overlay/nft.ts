/**
 * The agent's nftables tables `sextant_overlay` (ip, and ip6 when a network has IPv6; the component
 * owns them and nothing else):
 *  - postrouting: MASQUERADE overlay traffic leaving to non-overlay destinations;
 *  - forward: isolation. Established/related accepted; traffic arriving from the vxlan device was
 *    already checked by the sending agent; traffic inside one network accepted; admin allow rules
 *    (counted, comment = rule key); then each `deny` network's traffic towards the other networks
 *    is REJECTed with ICMP admin-prohibited (counted, comment `default:<net>`).
 * The whole table is replaced in one transaction when its text changes; the counted rules that
 * remain start from the counts the kernel had (withCounters), so a rule change, or the agent's
 * restart, resets no counter. Packets counted between the read and the replace are lost.
 */
import type { IsolationRule, NetworkPolicy, OverlayNetwork } from '../contracts/index.js';
import { parseEndpoint } from './config.js';

export const NFT_TABLE = 'sextant_overlay';

export interface IsolationInput {
  vtep: string;
  vtepSubnet: string;
  /** The VXLAN UDP port: its (outer) packets skip conntrack (the inner ones are tracked). */
  vxlanPort?: number;
  networks: OverlayNetwork[];
  rules: IsolationRule[];
  policies: NetworkPolicy[];
}

const set = (xs: string[]): string => (xs.length === 1 ? xs[0]! : `{ ${xs.join(', ')} }`);
const q = (s: string): string => `"${s.replace(/["\\]/g, '')}"`;

/** What differs between the `ip` and `ip6` tables. */
interface Family {
  ip: 'ip' | 'ip6';
  icmp: string;
  /** A network's prefix in this family, if it has one. */
  subnet(n: OverlayNetwork): string | undefined;
  /** A rule endpoint's prefix in this family; undefined = the rule does not apply here. */
  endpoint(s: string, nets: OverlayNetwork[], field: string): string | undefined;
}

const V4: Family = {
  ip: 'ip',
  icmp: 'icmp type admin-prohibited',
  subnet: (n) => n.subnet,
  endpoint: (s, nets, field) => parseEndpoint(s, nets, field).cidr,
};

/** IPv6: whole networks (their subnet6) and `network/<IPv6 prefix>` endpoints; IPv4 prefixes allow nothing here. */
const V6: Family = {
  ip: 'ip6',
  icmp: 'icmpv6 type admin-prohibited',
  subnet: (n) => n.subnet6,
  endpoint: (s, nets, field) => parseEndpoint(s, nets, field).cidr6,
};

function ruleLine(r: IsolationRule, nets: OverlayNetwork[], f: Family): string | undefined {
  let from: string | undefined;
  let to: string | undefined;
  try {
    from = f.endpoint(r.from, nets, 'from');
    to = f.endpoint(r.to, nets, 'to');
  } catch {
    return undefined; // names a network this agent does not know (yet): nothing to allow
  }
  if (!from || !to) return undefined;
  const parts = [`${f.ip} saddr ${from} ${f.ip} daddr ${to}`];
  if (r.protocol && !r.ports) parts.push(`meta l4proto ${r.protocol}`);
  if (r.ports) parts.push(`meta l4proto ${r.protocol ?? '{ tcp, udp }'} th dport ${set(r.ports.map(String))}`);
  parts.push(`counter accept comment ${q(r.key)}`);
  return parts.join(' ');
}

/** The forward (isolation) chain of one family's table. */
function forwardChain(x: IsolationInput, nets: OverlayNetwork[], f: Family): string[] {
  const mine = nets.filter((n) => f.subnet(n));
  const all = mine.map((n) => f.subnet(n)!);
  const lines = ['  chain forward {', '    type filter hook forward priority filter; policy accept;'];
  lines.push('    ct state established,related accept');
  lines.push(`    iifname ${q(x.vtep)} accept`);
  for (const s of all) lines.push(`    ${f.ip} saddr ${s} ${f.ip} daddr ${s} accept`);
  for (const r of [...x.rules].sort((a, b) => a.key.localeCompare(b.key))) {
    const l = ruleLine(r, nets, f);
    if (l) lines.push(`    ${l}`);
  }
  const deny = new Set(x.policies.filter((p) => p.default === 'deny').map((p) => p.network));
  for (const n of mine) {
    const others = all.filter((s) => s !== f.subnet(n));
    if (deny.has(n.name) && others.length) lines.push(`    ${f.ip} saddr ${f.subnet(n)} ${f.ip} daddr ${set(others)} counter reject with ${f.icmp} comment ${q(`default:${n.name}`)}`);
  }
  lines.push('  }');
  return lines;
}

/**
 * Outer VXLAN packets between agents need no connection tracking (nothing NATs or filters them by
 * state); skipping it saves a conntrack lookup and entry per tunnel packet on both ends.
 */
function notrackChains(port: number): string[] {
  return [
    '  chain raw_prerouting {',
    '    type filter hook prerouting priority raw; policy accept;',
    `    udp dport ${port} notrack`,
    '  }',
    '  chain raw_output {',
    '    type filter hook output priority raw; policy accept;',
    `    udp dport ${port} notrack`,
    '  }',
  ];
}

const sortedNets = (nets: OverlayNetwork[]) => [...nets].sort((a, b) => a.name.localeCompare(b.name));

export function buildRuleset(x: IsolationInput): string {
  const nets = sortedNets(x.networks);
  const all = nets.map((n) => n.subnet);
  const lines: string[] = [];
  lines.push(`table ip ${NFT_TABLE} {`);
  lines.push('  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;');
  if (all.length) lines.push(`    ip saddr ${set(all)} ip daddr != ${set([...all, x.vtepSubnet])} oifname != ${q(x.vtep)} masquerade`);
  lines.push('  }');
  lines.push(...forwardChain(x, nets, V4));
  if (x.vxlanPort) lines.push(...notrackChains(x.vxlanPort));
  lines.push('}');
  return lines.join('\n') + '\n';
}

/**
 * IPv6, in an `ip6` table of the same name ('' when no network has IPv6): MASQUERADE of the
 * networks' `subnet6` leaving to non-overlay destinations, and the same isolation as IPv4 between
 * their `subnet6`s (rules between whole networks; REJECT with ICMPv6 admin-prohibited).
 */
export function buildRuleset6(x: IsolationInput & { vtepSubnet6: string }): string {
  const nets = sortedNets(x.networks);
  const all = nets.map((n) => n.subnet6).filter((s): s is string => !!s);
  if (!all.length) return '';
  return [
    `table ip6 ${NFT_TABLE} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip6 saddr ${set(all)} ip6 daddr != ${set([...all, x.vtepSubnet6])} oifname != ${q(x.vtep)} masquerade`,
    '  }',
    ...forwardChain(x, nets, V6),
    '}',
    '',
  ].join('\n');
}

/** One transaction: create-if-missing, delete, recreate (both families; the ip6 one only if wanted). */
export function replaceTableScript(ruleset: string, ruleset6 = ''): string {
  return `table ip ${NFT_TABLE}\ndelete table ip ${NFT_TABLE}\n${ruleset}table ip6 ${NFT_TABLE}\ndelete table ip6 ${NFT_TABLE}\n${ruleset6}`;
}

export interface RuleCounter {
  key: string;
  packets: number;
  bytes: number;
}

/** Counters of the commented (counted) rules from `nft -j list table ip|ip6 sextant_overlay`. */
export function parseCounters(listing: unknown): RuleCounter[] {
  const out: RuleCounter[] = [];
  const items = ((listing as { nftables?: Record<string, unknown>[] })?.nftables ?? []) as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const it of items) {
    const rule = it.rule;
    if (!rule?.comment) continue;
    const c = (rule.expr as Record<string, any>[]).find((e) => e.counter)?.counter; // eslint-disable-line @typescript-eslint/no-explicit-any
    if (c) out.push({ key: rule.comment, packets: c.packets, bytes: c.bytes });
  }
  return out;
}

/** One counter per rule key: a rule that applies to both families is counted in both tables. */
export function sumCounters(cs: RuleCounter[]): RuleCounter[] {
  const by = new Map<string, RuleCounter>();
  for (const c of cs) {
    const had = by.get(c.key);
    by.set(c.key, had ? { key: c.key, packets: had.packets + c.packets, bytes: had.bytes + c.bytes } : { ...c });
  }
  return [...by.values()];
}

/**
 * `ruleset` (one family's table text) with each counted rule's `counter` starting at `have`'s count
 * for its key (`counter packets N bytes M`); rules without a count start at zero.
 */
export function withCounters(ruleset: string, have: RuleCounter[]): string {
  if (!ruleset || !have.length) return ruleset;
  const by = new Map(have.map((c) => [c.key, c]));
  return ruleset.replace(/^(.*) counter (.* comment "([^"]*)")$/gm, (line, head: string, tail: string, key: string) => {
    const c = by.get(key);
    return c ? `${head} counter packets ${c.packets} bytes ${c.bytes} ${tail}` : line;
  });
}

/** Comments of the counted rules a ruleset text holds (to compare with the kernel's). */
export function commentsOf(ruleset: string): string[] {
  // (one table's text at a time: the ip6 table repeats the keys of rules that apply to IPv6)
  return [...ruleset.matchAll(/comment "([^"]*)"/g)].map((m) => m[1]!).sort();
}

