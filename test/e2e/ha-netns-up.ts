/**
 * `sextant up --masters N --netns` for end-to-end tests (issue 25): through the shared `up`
 * helpers (up-lib.ts: a private loopback block and free ports), each master and its ZooKeeper
 * server in its own namespace, agents in theirs. Teardown stops `up` (SIGTERM), kills what it
 * printed by PID, the agents' checkpointed tasks, and deletes whatever namespaces of this run's
 * prefix are left (and their /etc/netns directories), even when the test failed.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { deleteNetns, freePort, type Tracked } from '../lib/index.js';
import { netnsList } from './netns-up.js';
import { spawnUp, upArgs, upPlan, upWorkDir, type UpPlan } from './up-lib.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export interface HaStatus {
  state: string;
  masters: { id: string; mesos: string; marathon: string; pid: number; leader: boolean; state: string }[];
  agents: { id: string; ip: string; api: string; pid: number; netns: string | null; state: string }[];
  zookeeper?: { address: string; pid: number; state: string }[];
  zk?: string;
}

export interface HaNetnsCluster {
  up: Tracked;
  plan: UpPlan;
  workDir: string;
  statusFile: string;
  /** Per-run prefix of the namespaces (`sxup<hex>`). */
  prefix: string;
  /** The hub's bridge address (the nodes' gateway and the forwarder's source address). */
  hubIp: string;
  /** Master k (0-based): its own address and namespace, and where the host reaches it. */
  masters: { n: number; ip: string; ns: string; mesos: string; marathon: string }[];
  /** Agent i (0-based): address, namespace, pid, id, work dir. */
  agents: { ip: string; ns: string; pid: number; id: string; dir: string }[];
  status(): HaStatus;
}

export async function startHaNetnsUp(t: Teardownable, o: { masters: 3 | 5; agents: number; kind: string; agentTimeoutMs?: number }): Promise<HaNetnsCluster> {
  const plan = await upPlan();
  const dir = upWorkDir(t, o.kind);
  const workDir = join(dir, 'work');
  const statusFile = join(dir, 'status.json');
  let zkPort = 0;
  while (!zkPort || zkPort + 1707 > 65535) zkPort = await freePort(`${plan.ipBase}.1`);
  const up = spawnUp(t, upArgs(plan, workDir, o.agents, ['--netns', '--masters', String(o.masters), '--zk-port', String(zkPort), '--status-file', statusFile, ...(o.agentTimeoutMs ? ['--agent-timeout-ms', String(o.agentTimeoutMs)] : [])]), workDir);
  t.teardown(async () => {
    up.kill('SIGTERM');
    await Promise.race([up.exited, new Promise((r) => setTimeout(r, 25_000))]);
    const pfx = up.output().match(/\((sxup[0-9a-f]{4})\*\)/)?.[1];
    if (!pfx) return;
    for (const n of netnsList().filter((n) => n.startsWith(pfx))) deleteNetns(n);
    if (existsSync('/etc/netns')) for (const d of readdirSync('/etc/netns').filter((d) => d.startsWith(pfx))) rmSync(join('/etc/netns', d), { recursive: true, force: true });
  });
  await up.waitFor(/sextant up: ready/, 300_000);
  const out = up.output();
  const prefix = out.match(/\((sxup[0-9a-f]{4})\*\)/)![1]!;
  const net = out.match(/on bridge br0 in sxup[0-9a-f]{4}hub \((\d+\.\d+\.\d+)\.0\/24/)![1]!;
  const masters = [...out.matchAll(/^starting master (\d+) on ([\d.]+):\d+/gm)].map((m) => {
    const n = Number(m[1]);
    const host = `${plan.ipBase}.${n}`;
    return { n, ip: m[2]!, ns: `${prefix}m${n}`, mesos: `http://${host}:${plan.masterPort}`, marathon: `http://${host}:${plan.marathonPort}` };
  });
  const agents = [...out.matchAll(/^agent (\d+): pid (\d+) http:\/\/([\d.]+):\d+ id (\S+) work dir (\S+)/gm)].map((m) => ({ ip: m[3]!, ns: `${prefix}a${m[1]}`, pid: Number(m[2]), id: m[4]!, dir: m[5]! }));
  if (masters.length !== o.masters || agents.length !== o.agents) throw new Error(`sextant up printed ${masters.length} masters and ${agents.length} agents:\n${out}`);
  return {
    up,
    plan,
    workDir,
    statusFile,
    prefix,
    hubIp: `${net}.1`,
    masters,
    agents,
    status: () => JSON.parse(readFileSync(statusFile, 'utf8')) as HaStatus,
  };
}
