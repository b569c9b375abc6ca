/**
 * Overlay benchmarks (bounded, all inside throwaway namespaces):
 *  1. iperf3 TCP between tasks on two agents over VXLAN vs between the agents on the underlay, with
 *     the agents sharing the host's CPUs and with one CPU each (Placement).
 *  2. Programming one agent for 1,000 remote agents (neigh + fdb + route + table 42 each) from empty.
 *  3. One agent joining a 1,000-agent cluster: the kernel work on an existing agent.
 *  2 and 3 run with both kernel drivers (iproute2 in-process into a netns; netlink in a child process
 *  inside the namespace, scale-child.ts).
 */
import { createRegistry, siblingArgv } from '../../common/index.js';
import { bridgeNamespaces, createNetns, requireNetns, requireTools, spawnTracked, type Netns } from '../../test/lib/index.js';
import { readFile } from 'node:fs/promises';
import { OverlayAgentComponent, OverlayMaster } from '../../overlay/index.js';
import { measureScale, type ScaleResult } from './scale.js';
import { FakeMaster, snapshotOf } from '../../overlay/test/harness.js';
import { createTask } from '../../overlay/test/tasks.js';
import { median, pairedRatio } from '../lib/stats.js';
import { stealNote } from '../lib/steal.js';
import { alternate, type Pair } from '../lib/pairs.js';
import { allowedCpus } from '../lib/cpus.js';

class Scope {
  private fns: (() => unknown)[] = [];
  teardown(fn: () => unknown): void {
    this.fns.push(fn);
  }
  async close(): Promise<void> {
    for (const f of this.fns.reverse()) await f();
  }
}

const SECONDS = 5;
const RUNS = 9;

/**
 * Where each agent's work runs on this host. `shared`: anywhere; the scheduler places both iperf3
 * ends, and a veth delivers a packet on the CPU that sent it, so one CPU does the kernel work of
 * both "machines" for the whole flow (send, encap, the switch, decap, receive). `cpus`: agent i is
 * a one-CPU machine: its iperf3 runs on CPU i (`taskset`) and packets arriving on its underlay
 * interface are processed on CPU i (RPS), the way a second machine's NIC delivers to that machine's
 * own CPU. The switch (the bridge namespace) runs on the sending CPU, like the wire.
 */
type Placement = { cpus?: [number, number] };

async function iperf(t: Scope, server: Netns, client: Netns, ip: string, at: Placement): Promise<number> {
  const pin = (i: number) => (at.cpus ? ['taskset', '-c', String(at.cpus[i])] : []);
  const s = spawnTracked(t, 'ip', ['netns', 'exec', server.name, ...pin(1), 'iperf3', '-s', '-1', '--forceflush', '-B', ip]);
  await s.waitFor(/Server listening/, 10000);
  const [cmd, ...args] = [...pin(0), 'iperf3', '-c', ip, '-t', String(SECONDS), '-J'];
  const out = await client.exec(cmd!, args, { timeoutMs: (SECONDS + 20) * 1000 });
  await s.exited;
  return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
}

const RPS = '/sys/class/net/eth0/queues/rx-0/rps_cpus';

/** The first two CPUs this process may use, one per agent, or why not (one CPU, or a kernel without RPS). */
async function agentCpus(nss: Netns[]): Promise<[number, number] | string> {
  const cpus = allowedCpus();
  if (cpus.length < 2) return 'needs 2 CPUs';
  const ok = await nss[0]!.exec('test', ['-w', RPS]).then(() => true, () => false);
  return ok ? [cpus[0]!, cpus[1]!] : 'this kernel has no RPS (CONFIG_RPS)';
}

/** Packets arriving on agent i's underlay interface are handled on CPU cpus[i]. */
async function steerReceive(nss: Netns[], cpus: [number, number]): Promise<void> {
  // rps_cpus is a hex mask written in 32-bit words separated by commas (CPU 32 is `1,00000000`).
  const mask = (cpu: number) => (1n << BigInt(cpu)).toString(16).replace(/\B(?=(?:[0-9a-f]{8})+$)/g, ',');
  for (const [i, ns] of nss.entries()) await ns.exec('sh', ['-c', `echo ${mask(cpus[i]!)} > ${RPS}`]);
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
    // Pairs of runs, the first of each pair flipping, so drift in machine load hits both alike.
    const series = (at: Placement) =>
      alternate(
        RUNS,
        () => iperf(t, nss[1]!, nss[0]!, addrs[1]!, at),
        () => iperf(t, t1, t0, '9.0.1.2', at),
      );
    const shared = await series({});
    const cpus = await agentCpus(nss);
    let own: Pair | undefined;
    if (typeof cpus !== 'string') {
      await steerReceive(nss, cpus);
      own = await series({ cpus });
    }
    return [
      '## iperf3 TCP, task to task over the overlay vs agent to agent on the underlay',
      '',
      `Median of ${RUNS} alternating runs of ${SECONDS} s per placement, one stream, veth underlay through a bridge namespace (MTU 1500; overlay MTU 1420).`,
      'Per pair: the median of the ratios of each overlay run to the underlay run of its pair (the underlay goes first in odd pairs, second in even ones; drift in machine load cancels).',
      '',
      '- **one CPU per agent** (the target is judged here): each agent is a one-CPU machine, as two agents on two machines are. Its iperf3 is pinned to its CPU (`taskset`) and packets arriving on its underlay interface are handled on its CPU (RPS on `eth0`), as a NIC delivers to its own machine.',
      '- **shared CPUs**: nothing pinned, no RPS. A veth delivers on the sending CPU, so that CPU does the kernel work of both agents for the flow (encap and decap, both forwards); the other CPU mostly copies to the receiver. Kept for comparison with earlier runs.',
      '',
      '| placement | path | Gbit/s (runs) |',
      '| --- | --- | --- |',
      ...(own ? rows('one CPU per agent', own) : [`| one CPU per agent | not run: ${cpus as string} | |`]),
      ...rows('shared CPUs', shared),
      '',
    ];
  } finally {
    await t.close();
  }
}

function rows(name: string, p: Pair): string[] {
  const { direct: unders, via: overs, steal } = p;
  const [mu, mo] = [median(unders), median(overs)];
  const g = (b: number) => (b / 1e9).toFixed(2);
  const all = (xs: number[]) => xs.map(g).join(' / ');
  return [
    `| ${name} | underlay agent -> agent | ${g(mu)} (${all(unders)}) |`,
    `| ${name} | overlay task -> task (VXLAN) | ${g(mo)} (${all(overs)}) |`,
    `| ${name} | **ratio overlay / underlay** | **${((mo / mu) * 100).toFixed(0)}%** of medians, **${(pairedRatio(unders, overs) * 100).toFixed(0)}%** per pair (target >= 80%); ${stealNote(steal)} |`,
  ];
}

const CHILD = siblingArgv(import.meta.url, 'scale-child');

async function scaleIproute(t: Scope): Promise<ScaleResult> {
  const ns = await createNetns(t, 'bs');
  const a = new OverlayAgentComponent({ agentId: 'agent-0', registry: createRegistry(), netns: ns.name, kernel: 'iproute2', reconcileMs: 3_600_000 });
  await a.start();
  t.teardown(() => a.stop());
  return measureScale(a);
}

async function scaleNetlink(t: Scope): Promise<ScaleResult> {
  const ns = await createNetns(t, 'bn');
  const p = spawnTracked(t, 'ip', ['netns', 'exec', ns.name, process.execPath, ...CHILD], { env: { ...process.env, SEXTANT_OVERLAY_KERNEL: 'netlink' } });
  const m = await p.waitFor(/^result (.*)$/m, 120_000);
  return JSON.parse(m[1]!) as ScaleResult;
}

async function scale(): Promise<string[]> {
  const t = new Scope();
  try {
    const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
    const ipr = await scaleIproute(t);
    const nl = await scaleNetlink(t);
    const ms = (x: number) => `${x.toFixed(1)} ms`;
    const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x`;
    return [
      '## Programming remote agents (neigh + fdb + route + table-42 route each)',
      '',
      `Both kernel drivers; load average ${load} at start (2 shared cores: wall times are noisy, compare ratios).`,
      'iproute2 = `ip`/`bridge -batch` spawned per sync into the namespace; netlink = rtnetlink socket in the agent',
      "process's namespace (`netlink` package), requests pipelined 64 at a time. Joins: median of 9.",
      '',
      '| case | iproute2 | netlink | iproute2 / netlink | kernel lines | target |',
      '| --- | --- | --- | --- | --- | --- |',
      `| 1,000 remote agents from empty (dump + diff + apply + nft) | ${ms(ipr.full)} | ${ms(nl.full)} | ${ratio(ipr.full, nl.full)} | ${nl.fullLines} (${nl.neighs}/${ipr.neighs} neighbours after) | < 2 s |`,
      `| same, Node CPU time (spawned tools excluded) | ${ms(ipr.fullCpu)} | ${ms(nl.fullCpu)} | - | | |`,
      `| one agent joins a 1,000-agent cluster (full sync: dump of 1,000 + diff + apply) | ${ms(ipr.join)} | ${ms(nl.join)} | ${ratio(ipr.join, nl.join)} | ${nl.joinLines} | - |`,
      `| one agent joins: kernel batch alone (median / min) | ${ms(ipr.batch)} / ${ms(ipr.batchMin)} | ${ms(nl.batch)} / ${ms(nl.batchMin)} | ${ratio(ipr.batch, nl.batch)} | 4 | < 20 ms |`,
      '',
    ];
  } finally {
    await t.close();
  }
}

export async function bench(): Promise<string> {
  requireNetns();
  requireTools('ip', 'bridge', 'nft', 'iperf3');
  const out: string[] = [];
  out.push(...(await scale()));
  out.push(...(await throughput()));
  return out.join('\n');
}
