/**
 * The agent's nftables table `sextant_overlay` (ip family; the component owns it and nothing else):
 *  - postrouting: MASQUERADE overlay traffic leaving to non-overlay destinations;
 *  - forward: isolation. Established/related accepted; traffic arriving from the vxlan device was
 *    already checked by the sending agent; traffic inside one network accepted; admin allow rules
 *    (counted, comment = rule key); then each `deny` network's traffic towards the other networks
 *    is REJECTed with ICMP admin-prohibited (counted, comment `default:<net>`).
 * The whole table is replaced in one transaction when its text changes.
 */
import type { IsolationRule, NetworkPolicy, OverlayNetwork } from '../control/index.js';
import { parseEndpoint } from './config.js';

export const NFT_TABLE = 'sextant_overlay';

export interface IsolationInput {
  vtep: string;
  vtepSubnet: string;
  networks: OverlayNetwork[];
  rules: IsolationRule[];
  policies: NetworkPolicy[];
}

const set = (xs: string[]): string => (xs.length === 1 ? xs[0]! : `{ ${xs.join(', ')} }`);
const q = (s: string): string => `"${s.replace(/["\\]/g, '')}"`;

function ruleLine(r: IsolationRule, nets: OverlayNetwork[]): string | undefined {
  let from: string;
  let to: string;
  try {
    from = parseEndpoint(r.from, nets, 'from').cidr;
    to = parseEndpoint(r.to, nets, 'to').cidr;
  } catch {
    return undefined; // names a network this agent does not know (yet): nothing to allow
  }
  const parts = [`ip saddr ${from} ip daddr ${to}`];
  if (r.protocol && !r.ports) parts.push(`meta l4proto ${r.protocol}`);
  if (r.ports) parts.push(`meta l4proto ${r.protocol ?? '{ tcp, udp }'} th dport ${set(r.ports.map(String))}`);
  parts.push(`counter accept comment ${q(r.key)}`);
  return parts.join(' ');
}

export function buildRuleset(x: IsolationInput): string {
  const nets = [...x.networks].sort((a, b) => a.name.localeCompare(b.name));
  const all = nets.map((n) => n.subnet);
  const lines: string[] = [];
  lines.push(`table ip ${NFT_TABLE} {`);
  lines.push('  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;');
  if (all.length) lines.push(`    ip saddr ${set(all)} ip daddr != ${set([...all, x.vtepSubnet])} oifname != ${q(x.vtep)} masquerade`);
  lines.push('  }');
  lines.push('  chain forward {', '    type filter hook forward priority filter; policy accept;');
  lines.push('    ct state established,related accept');
  lines.push(`    iifname ${q(x.vtep)} accept`);
  for (const n of nets) lines.push(`    ip saddr ${n.subnet} ip daddr ${n.subnet} accept`);
  for (const r of [...x.rules].sort((a, b) => a.key.localeCompare(b.key))) {
    const l = ruleLine(r, nets);
    if (l) lines.push(`    ${l}`);
  }
  const deny = new Set(x.policies.filter((p) => p.default === 'deny').map((p) => p.network));
  for (const n of nets) {
    const others = all.filter((s) => s !== n.subnet);
    if (deny.has(n.name) && others.length) lines.push(`    ip saddr ${n.subnet} ip daddr ${set(others)} counter reject with icmp type admin-prohibited comment ${q(`default:${n.name}`)}`);
  }
  lines.push('  }', '}');
  return lines.join('\n') + '\n';
}

/**
 * IPv6: MASQUERADE of the networks' `subnet6` leaving to non-overlay destinations, in an `ip6`
 * table of the same name ('' when no network has IPv6). Isolation stays IPv4-only.
 */
export function buildMasq6(x: { vtep: string; vtepSubnet6: string; networks: OverlayNetwork[] }): string {
  const all = x.networks.map((n) => n.subnet6).filter((s): s is string => !!s).sort();
  if (!all.length) return '';
  return [
    `table ip6 ${NFT_TABLE} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip6 saddr ${set(all)} ip6 daddr != ${set([...all, x.vtepSubnet6])} oifname != ${q(x.vtep)} masquerade`,
    '  }',
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

/** Counters of the commented (counted) rules from `nft -j list table ip sextant_overlay`. */
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

/** Comments of the counted rules a ruleset text holds (to compare with the kernel's). */
export function commentsOf(ruleset: string): string[] {
  return [...ruleset.matchAll(/comment "([^"]*)"/g)].map((m) => m[1]!).sort();
}

