/**
 * Overlay benchmarks (bounded, all inside throwaway namespaces):
 *  1. iperf3 TCP between tasks on two agents over VXLAN vs between the agents on the underlay.
 *  2. Programming one agent for 1,000 remote agents (neigh + fdb + route + table 42 each) from empty.
 *  3. One agent joining a 1,000-agent cluster: the kernel work on an existing agent.
 */
import { createRegistry } from '../../common/index.js';
import { bridgeNamespaces, createNetns, requireNetns, requireTools, spawnTracked, type Netns } from '../../test/lib/index.js';
import type { OverlayAgent, Snapshot } from '../../control/index.js';
import { DEFAULT_NETWORKS, DEFAULT_OVERLAY, OverlayAgentComponent, OverlayMaster, vtepMac } from '../index.js';
import { FakeMaster, snapshotOf } from '../test/harness.js';
import { createTask } from '../test/tasks.js';

class Scope {
  private fns: (() => unknown)[] = [];
  teardown(fn: () => unknown): void {
    this.fns.push(fn);
  }
  async close(): Promise<void> {
    for (const f of this.fns.reverse()) await f();
  }
}

const SECONDS = 3;

async function iperf(t: Scope, server: Netns, client: Netns, ip: string): Promise<number> {
  const s = spawnTracked(t, 'ip', ['netns', 'exec', server.name, 'iperf3', '-s', '-1', '--forceflush', '-B', ip]);
  await s.waitFor(/Server listening/, 10000);
  const out = await client.exec('iperf3', ['-c', ip, '-t', String(SECONDS), '-J'], { timeoutMs: (SECONDS + 20) * 1000 });
  await s.exited;
  return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
}

async function throughput(): Promise<string[]> {
  const t = new Scope();
  try {
    const nss = [await createNetns(t, 'b0'), await createNetns(t, 'b1')];
    const { addrs } = await bridgeNamespaces(t, nss, '10.79.0');
    const m = new FakeMaster();
    const master = new OverlayMaster(m);
    await master.start();
    t.teardown(() => master.stop());
    m.setAgents(addrs.map((ip, i) => ({ id: `agent-${i}`, ip })));
    await master.sync();
    const snap = await snapshotOf(master.sources(), master.config);
    for (const [i, ns] of nss.entries()) {
      const a = new OverlayAgentComponent({ agentId: `agent-${i}`, registry: createRegistry(), netns: ns.name });
      await a.start();
      t.teardown(() => a.stop());
      await a.apply(snap);
    }
    const t0 = await createTask(t, nss[0]!, 'dcos', '9.0.0.2', 25, '9.0.0.1');
    const t1 = await createTask(t, nss[1]!, 'dcos', '9.0.1.2', 25, '9.0.1.1');
    const under = await iperf(t, nss[1]!, nss[0]!, addrs[1]!);
    const over = await iperf(t, t1, t0, '9.0.1.2');
    const g = (b: number) => (b / 1e9).toFixed(2);
    return [
      '## iperf3 TCP, task to task over the overlay vs agent to agent on the underlay',
      '',
      `${SECONDS} s each, one stream, veth underlay through a bridge namespace (MTU 1500; overlay MTU 1420).`,
      '',
      '| path | Gbit/s |',
      '| --- | --- |',
      `| underlay agent -> agent | ${g(under)} |`,
      `| overlay task -> task (VXLAN) | ${g(over)} |`,
      `| **ratio overlay / underlay** | **${((over / under) * 100).toFixed(0)}%** (target >= 80%) |`,
      '',
    ];
  } finally {
    await t.close();
  }
}

function syntheticAgents(n: number): OverlayAgent[] {
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

const snap = (agents: OverlayAgent[], version: number): Snapshot => ({
  history: 'bench', version, overlay: DEFAULT_OVERLAY,
  parts: { vips: [], zones: [], networks: DEFAULT_NETWORKS, overlay_agents: agents, isolation_rules: [], network_policies: [], masters: [] },
});

async function scale(): Promise<string[]> {
  const t = new Scope();
  try {
    const ns = await createNetns(t, 'bs');
    const agents = syntheticAgents(1002);
    const a = new OverlayAgentComponent({ agentId: 'agent-0', registry: createRegistry(), netns: ns.name });
    await a.start();
    t.teardown(() => a.stop());
    const first = agents.slice(0, 1001); // self + 1,000 remotes
    const t0 = performance.now();
    await a.apply(snap(first, 1));
    const full = performance.now() - t0;
    const fullLines = a.lastReport!.plan.ip.length + a.lastReport!.plan.bridge.length;
    const neigh = (await ns.ip('neigh', 'show', 'dev', 'vtep1024')).trim().split('\n').length;
    const t1 = performance.now();
    await a.apply(snap(agents, 2));
    const join = performance.now() - t1;
    const joinPlan = a.lastReport!.plan;
    // The kernel work alone for one join: the batch, without the dump.
    const driver = a.driver;
    const extra = syntheticAgents(1003)[1002]!;
    const lines = [`neigh replace ${extra.vtep_ip.split('/')[0]} lladdr ${extra.vtep_mac} dev vtep1024 nud permanent`, `route replace ${extra.subnets.dcos!.subnet} via ${extra.vtep_ip.split('/')[0]} dev vtep1024 onlink`, `route replace ${extra.ip}/32 via ${extra.vtep_ip.split('/')[0]} dev vtep1024 onlink table 42`];
    const t2 = performance.now();
    await driver.apply(lines, [`fdb replace ${extra.vtep_mac} dev vtep1024 dst ${extra.ip} self permanent`]);
    const batchOnly = performance.now() - t2;
    return [
      '## Programming remote agents (neigh + fdb + route + table-42 route each)',
      '',
      '| case | wall time | kernel lines | target |',
      '| --- | --- | --- | --- |',
      `| 1,000 remote agents from empty (dump + diff + apply + nft) | ${full.toFixed(0)} ms | ${fullLines} (${neigh} neighbours present after) | < 2 s |`,
      `| one agent joins a 1,000-agent cluster (full sync: dump of 1,000 + diff + apply) | ${join.toFixed(1)} ms | ${joinPlan.ip.length + joinPlan.bridge.length} | - |`,
      `| one agent joins: kernel batch alone (ip + bridge) | ${batchOnly.toFixed(1)} ms | 4 | < 20 ms |`,
      '',
      'Kernel access goes through iproute2 batch mode into the agent namespace (process spawn included in every figure).',
      '',
    ];
  } finally {
    await t.close();
  }
}

export async function bench(): Promise<string> {
  requireNetns();
  requireTools('ip', 'bridge', 'nft', 'iperf3');
  const out = ['# overlay benchmarks', ''];
  out.push(...(await scale()));
  out.push(...(await throughput()));
  return out.join('\n');
}
