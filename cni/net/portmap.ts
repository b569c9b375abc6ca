/**
 * Host ports to task ports with nftables, in our own table `ip sextant_cni_portmap`.
 * Only traffic addressed to a local address is considered (`fib daddr type local`): VIP traffic,
 * which the l4lb DNATs at an earlier priority (or makes local for IPVS, hence `exclude`), is never
 * captured — DC/OS's portmap did capture it. One chain per attachment, reached through the
 * verdict map `ports` keyed by `protocol . host port`, so ADD and DEL touch only their own
 * objects and every change is one `nft -f` transaction.
 */
import { sha1Hex } from './sha1.js';
import { hostCmd, isMissing, run, type Host } from './run.js';
import { CniError, CODES } from '../errors.js';
import type { PortMapping } from '../config.js';

export const TABLE = 'sextant_cni_portmap';
/** Marks hairpin/bridge-local connections for masquerade. */
const MASQ_MARK = '0x2000';

/** Chain of one attachment: `<network>-<hash>` (the prefix lets GC scope itself to one network). */
export function chainName(network: string, containerId: string, ifname: string): string {
  return `${network}-${sha1Hex(`${containerId}/${ifname}`).slice(0, 12)}`;
}

export interface PortmapSpec {
  chain: string;
  taskIp: string;
  /** The bridge subnet: its sources are masqueraded so replies come back through the host. */
  bridgeSubnet: string;
  mappings: PortMapping[];
  exclude: string[];
}

function baseChains(): string[] {
  const t = `ip ${TABLE}`;
  return [
    `add table ${t}`,
    `add map ${t} ports { type inet_proto . inet_service : verdict; }`,
    `add chain ${t} prerouting { type nat hook prerouting priority -100; policy accept; }`,
    `flush chain ${t} prerouting`,
    `add rule ${t} prerouting fib daddr type local meta l4proto . th dport vmap @ports`,
    `add chain ${t} output { type nat hook output priority -100; policy accept; }`,
    `flush chain ${t} output`,
    `add rule ${t} output ip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . th dport vmap @ports`,
    `add chain ${t} postrouting { type nat hook postrouting priority 100; policy accept; }`,
    `flush chain ${t} postrouting`,
    `add rule ${t} postrouting meta mark & ${MASQ_MARK} == ${MASQ_MARK} masquerade`,
  ];
}

export function buildAdd(s: PortmapSpec): string {
  const t = `ip ${TABLE}`;
  const lines = [...baseChains(), `add chain ${t} ${s.chain}`, `flush chain ${t} ${s.chain}`];
  if (s.exclude.length) lines.push(`add rule ${t} ${s.chain} ip daddr { ${s.exclude.join(', ')} } return`);
  lines.push(`add rule ${t} ${s.chain} ip saddr ${s.bridgeSubnet} meta mark set meta mark | ${MASQ_MARK}`);
  for (const m of s.mappings) {
    const dst = m.hostIP ? `ip daddr ${m.hostIP} ` : '';
    lines.push(`add rule ${t} ${s.chain} ${dst}meta l4proto ${m.protocol} th dport ${m.hostPort} dnat to ${s.taskIp}:${m.containerPort}`);
  }
  for (const m of s.mappings) lines.push(`add element ${t} ports { ${m.protocol} . ${m.hostPort} : jump ${s.chain} }`);
  return lines.join('\n') + '\n';
}

type Elem = [{ concat: [string, number] }, { jump?: { target: string } }];

/** The map's elements and the table's chains, in one `nft` call; undefined when there is no table. */
async function listTable(host: Host): Promise<{ elems: Elem[]; chains: string[] } | undefined> {
  try {
    const out = JSON.parse(await run(hostCmd(host, 'nft', ['-j', 'list', 'table', 'ip', TABLE]))) as { nftables: { map?: { name: string; elem?: Elem[] }; chain?: { name: string } }[] };
    return {
      elems: out.nftables.find((x) => x.map?.name === 'ports')?.map?.elem ?? [],
      chains: out.nftables.flatMap((x) => (x.chain ? [x.chain.name] : [])),
    };
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

export async function addPortmap(host: Host, s: PortmapSpec): Promise<void> {
  if (!s.mappings.length) return;
  try {
    await run(hostCmd(host, 'nft', ['-f', '-']), buildAdd(s));
  } catch (e) {
    const busy = /exists/i.test((e as Error).message);
    const ports = s.mappings.map((m) => `${m.protocol}/${m.hostPort}`).join(', ');
    throw new CniError(busy ? CODES.invalidConfig : CODES.kernel, busy ? `host port already mapped by another task: ${ports}` : (e as Error).message);
  }
}

/** Remove the chains selected by `drop` and their map elements; succeeds when nothing is there. */
export async function removePortmaps(host: Host, drop: (chain: string) => boolean): Promise<string[]> {
  const table = await listTable(host);
  if (table === undefined) return [];
  const t = `ip ${TABLE}`;
  const elems = table.elems;
  const doomed = table.chains.filter((c) => !['prerouting', 'output', 'postrouting'].includes(c) && drop(c));
  if (!doomed.length) return [];
  const lines: string[] = [];
  for (const [key, verdict] of elems) {
    const target = verdict.jump?.target;
    if (target && doomed.includes(target)) lines.push(`delete element ${t} ports { ${key.concat[0]} . ${key.concat[1]} }`);
  }
  for (const c of doomed) lines.push(`flush chain ${t} ${c}`, `delete chain ${t} ${c}`);
  await run(hostCmd(host, 'nft', ['-f', '-']), lines.join('\n') + '\n');
  return doomed;
}

/** The DNAT rules of one chain, as `proto/hostPort->ip:port` (for CHECK). */
export async function readPortmap(host: Host, chain: string): Promise<string[]> {
  try {
    const text = await run(hostCmd(host, 'nft', ['list', 'chain', 'ip', TABLE, chain]));
    return [...text.matchAll(/\b(tcp|udp) dport (\d+) dnat to ([\d.]+:\d+)/g)].map((m) => `${m[1]}/${m[2]}->${m[3]}`);
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
}
