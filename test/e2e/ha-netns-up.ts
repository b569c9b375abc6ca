/**
 * `sextant up --masters N --netns` for end-to-end tests (issue 25): through the shared `up`
 * helpers (up-lib.ts: a private loopback block and free ports), each master and its ZooKeeper
 * server in its own namespace, agents in theirs. Secure (`up`'s default: mutual TLS, an entry
 * point on every master) unless `insecure` (then `--insecure-dev`, as the caller explains). Teardown stops `up` (SIGTERM), kills what it
 * printed by PID, the agents' checkpointed tasks, and deletes whatever namespaces of this run's
 * prefix are left (and their /etc/netns directories), even when the test failed.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientTls } from '../../common/http.js';
import { deleteNetns, freePort, type Tracked } from '../lib/index.js';
import { netnsList } from './netns-up.js';
import { spawnUp, upArgs, upPlan, upWorkDir, type UpPlan } from './up-lib.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export interface HaStatus {
  state: string;
  masters: { id: string; mesos: string; marathon: string; entry?: string; pid: number; leader: boolean; state: string }[];
  agents: { id: string; ip: string; api: string; pid: number; netns: string | null; state: string }[];
  zookeeper?: { address: string; pid: number; state: string }[];
  zk?: string;
  zk_auth_file?: string;
  entry?: string;
  ca?: string;
  token?: string;
  cli_cert?: string;
  cli_key?: string;
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
  masters: { n: number; ip: string; ns: string; mesos: string; marathon: string; entry?: string }[];
  /** Secure: the CA and the operator's certificate (the status file's), for the test's calls to the component ports. */
  tls?: ClientTls;
  /** Agent i (0-based): address, namespace, pid, id, work dir. */
  agents: { ip: string; ns: string; pid: number; id: string; dir: string }[];
  status(): HaStatus;
}

export async function startHaNetnsUp(t: Teardownable, o: { masters: 3 | 5; agents: number; kind: string; agentTimeoutMs?: number; insecure?: boolean }): Promise<HaNetnsCluster> {
  const plan = await upPlan();
  const dir = upWorkDir(t, o.kind);
  const workDir = join(dir, 'work');
  const statusFile = join(dir, 'status.json');
  let zkPort = 0;
  while (!zkPort || zkPort + 1707 > 65535) zkPort = await freePort(`${plan.ipBase}.1`);
  const up = spawnUp(t, upArgs(plan, workDir, o.agents, ['--netns', '--masters', String(o.masters), '--zk-port', String(zkPort), '--status-file', statusFile, ...(o.agentTimeoutMs ? ['--agent-timeout-ms', String(o.agentTimeoutMs)] : [])], { secure: !o.insecure }), workDir);
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
  const scheme = o.insecure ? 'http' : 'https';
  const masters = [...out.matchAll(/^starting master (\d+) on ([\d.]+):\d+/gm)].map((m) => {
    const n = Number(m[1]);
    const host = `${plan.ipBase}.${n}`;
    return { n, ip: m[2]!, ns: `${prefix}m${n}`, mesos: `${scheme}://${host}:${plan.masterPort}`, marathon: `${scheme}://${host}:${plan.marathonPort}`, ...(o.insecure ? {} : { entry: `https://${host}:${plan.adminPort}` }) };
  });
  const agents = [...out.matchAll(/^agent (\d+): pid (\d+) https?:\/\/([\d.]+):\d+ id (\S+) work dir (\S+)/gm)].map((m) => ({ ip: m[3]!, ns: `${prefix}a${m[1]}`, pid: Number(m[2]), id: m[4]!, dir: m[5]! }));
  if (masters.length !== o.masters || agents.length !== o.agents) throw new Error(`sextant up printed ${masters.length} masters and ${agents.length} agents:\n${out}`);
  const s = JSON.parse(readFileSync(statusFile, 'utf8')) as HaStatus;
  const tls = s.ca && s.cli_cert && s.cli_key ? { ca: readFileSync(s.ca), cert: readFileSync(s.cli_cert), key: readFileSync(s.cli_key) } : undefined;
  return {
    up,
    plan,
    ...(tls ? { tls } : {}),
    workDir,
    statusFile,
    prefix,
    hubIp: `${net}.1`,
    masters,
    agents,
    status: () => JSON.parse(readFileSync(statusFile, 'utf8')) as HaStatus,
  };
}
