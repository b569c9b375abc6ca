/**
 * The "1,000 remote agents" measurements, shared by the in-process run (iproute2 into a netns) and
 * the child run inside the namespace (netlink; a netlink socket is bound to its process's netns).
 */
import type { OverlayAgent, Snapshot } from '../../contracts/index.js';
import { DEFAULT_NETWORKS, DEFAULT_OVERLAY, vtepMac } from '../../overlay/config.js';
import type { OverlayAgentComponent } from '../../overlay/agent.js';
import { OVERLAY_TABLE } from '../../overlay/desired.js';
import { MAIN_TABLE, type Op } from '../../overlay/ops.js';
import { median } from '../lib/stats.js';

export interface ScaleResult {
  kernel: string;
  /** 1,000 remotes from empty: dump + diff + apply + nft, ms. */
  full: number;
  fullLines: number;
  neighs: number;
  /** One agent joining: full sync (dump of 1,000 + diff + apply), median ms. */
  join: number;
  joinLines: number;
  /** One agent joining: its 4 kernel ops alone, median and min ms. */
  batch: number;
  batchMin: number;
  /** Node CPU time of the from-empty sync (excludes spawned `ip`/`bridge`/`nft`), ms. */
  fullCpu: number;
}

export function syntheticAgents(n: number): OverlayAgent[] {
  const out: OverlayAgent[] = [];
  for (let i = 0; i < n; i++) {
    const vtep = `44.128.${(i + 1) >> 8}.${(i + 1) & 255}`;
    out.push({
      key: `agent-${i}`, agent_id: `agent-${i}`, ip: `10.200.${i >> 7}.${(i & 127) + 1}`,
      vtep_ip: `${vtep}/20`, vtep_mac: vtepMac(DEFAULT_OVERLAY.vtep_mac_oui, vtep),
      subnets: { dcos: { subnet: `9.${i >> 8}.${i & 255}.0/24`, bridge: `9.${i >> 8}.${i & 255}.0/25` } },
    });
  }
  return out;
}

export const snapOf = (agents: OverlayAgent[], version: number): Snapshot => ({
  history: 'bench', version, overlay: DEFAULT_OVERLAY,
  parts: { vips: [], zones: [], networks: DEFAULT_NETWORKS, overlay_agents: agents, isolation_rules: [], network_policies: [], masters: [] },
});

const JOINS = 9;

/** `a` must be started and program an empty namespace. */
export async function measureScale(a: OverlayAgentComponent): Promise<ScaleResult> {
  const agents = syntheticAgents(1001 + 2 * JOINS);
  let version = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await a.apply(snapOf(agents.slice(0, 1001), ++version)); // self + 1,000 remotes
  const full = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const fullLines = a.lastReport!.plan.ip.length + a.lastReport!.plan.bridge.length;
  const neighs = (await a.driver.dump('vtep1024')).neighs.length;
  const joins: number[] = [];
  let joinLines = 0;
  for (let j = 0; j < JOINS; j++) {
    const t1 = performance.now();
    await a.apply(snapOf(agents.slice(0, 1002 + j), ++version));
    joins.push(performance.now() - t1);
    joinLines = a.lastReport!.plan.ip.length + a.lastReport!.plan.bridge.length;
  }
  // The kernel work alone for one join: the batch, without the dump.
  const batches: number[] = [];
  for (const x of agents.slice(1001 + JOINS)) {
    const vtep = x.vtep_ip.split('/')[0]!;
    const dev = 'vtep1024';
    const ops: Op[] = [
      { op: 'neigh.replace', dev, ip: vtep, mac: x.vtep_mac },
      { op: 'route.replace', dst: x.subnets.dcos!.subnet, via: vtep, dev, table: MAIN_TABLE },
      { op: 'route.replace', dst: `${x.ip}/32`, via: vtep, dev, table: OVERLAY_TABLE },
      { op: 'fdb.replace', dev, mac: x.vtep_mac, dst: x.ip },
    ];
    const t2 = performance.now();
    await a.driver.apply(ops);
    batches.push(performance.now() - t2);
  }
  return { kernel: a.kernel, full, fullLines, neighs, join: median(joins), joinLines, batch: median(batches), batchMin: Math.min(...batches), fullCpu: (cpu.user + cpu.system) / 1000 };
}
