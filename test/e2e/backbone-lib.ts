/**
 * Helpers for the backbone end-to-end tests: a `sextant up` cluster on a private loopback block
 * and random ports, Marathon calls, and a /proc scan for the processes of an app (by a marker
 * string that only the app's command line contains).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { requestJson } from '../../common/http.js';
import { INSECURE_DEV, eventually, freePort, loopbackBlock, spawnTracked, stopPids, uniqueName, type Tracked } from '../lib/index.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
export const sextantJs = join(root, 'dist', 'cli', 'sextant.js');

export interface Cluster {
  up: Tracked;
  workDir: string;
  ipBase: string;
  masterPort: number;
  marathonPort: number;
  agentPort: number;
  portBase: number;
  master: string;
  marathon: string;
  agentIp(i: number): string;
  /** pid of agent i (1-based) as printed by `sextant up`. */
  agentPid(i: number): number;
  /** Start agent i (1-based) again as `sextant up` did, on the same work dir. */
  restartAgent(t: Teardownable, i: number): Promise<Tracked>;
}

export async function startUp(t: Teardownable, agents = 2, agentTimeoutMs = 3000): Promise<Cluster> {
  if (!existsSync(sextantJs)) throw new Error(`${sextantJs} is missing: run \`npx tsc -p .\` (npm test builds it first)`);
  const block = loopbackBlock();
  const ipBase = block(1).split('.').slice(0, 3).join('.');
  const workDir = mkdtempSync(join(tmpdir(), `${uniqueName('up')}-`));
  const [masterPort, marathonPort, agentPort] = [await freePort(), await freePort(), await freePort()];
  const portBase = randomInt(20, 55) * 1000;
  const up = spawnTracked(t, process.execPath, [sextantJs, 'up', '--agents', String(agents), '--no-example', '--work-dir', workDir, '--ip-base', ipBase, '--master-port', String(masterPort), '--marathon-port', String(marathonPort), '--agent-port', String(agentPort), '--port-base', String(portBase), '--agent-timeout-ms', String(agentTimeoutMs), '--admin-port', String(await freePort(block(1))), ...INSECURE_DEV], { graceMs: 15000 });
  // `up` starts the master and agents in their own process groups: stop them by the PIDs it
  // printed, so a slow shutdown under load can never leak them (then remove the work dir).
  t.teardown(async () => {
    const pids = [...up.output().matchAll(/^(?:master|agent \d+): pid (\d+)/gm)].map((m) => Number(m[1]));
    up.kill('SIGTERM');
    await Promise.race([up.exited, new Promise((r) => setTimeout(r, 15000))]);
    await stopPids(pids);
    rmSync(workDir, { recursive: true, force: true });
  });
  await up.waitFor(/sextant up: ready/, 60_000);
  const c: Cluster = {
    up,
    workDir,
    ipBase,
    masterPort,
    marathonPort,
    agentPort,
    portBase,
    master: `http://${ipBase}.1:${masterPort}`,
    marathon: `http://${ipBase}.1:${marathonPort}`,
    agentIp: (i) => `${ipBase}.${i + 1}`,
    agentPid(i) {
      const m = up.output().match(new RegExp(`agent ${i}: pid (\\d+)`));
      if (!m) throw new Error(`no pid for agent ${i} in sextant up output`);
      return Number(m[1]);
    },
    async restartAgent(t, i) {
      const ports = `ports:[${portBase + 1000 * (i - 1)}-${portBase + 1000 * (i - 1) + 999}]`;
      const a = spawnTracked(t, process.execPath, [sextantJs, 'agent', '--master', `${ipBase}.1:${masterPort}`, '--ip', c.agentIp(i), '--port', String(agentPort), '--hostname', c.agentIp(i), '--work-dir', join(workDir, `agent-${i}`), '--resources', `cpus:4;mem:4096;disk:10000;${ports}`, '--kill-tasks-on-exit', ...INSECURE_DEV], {
        // As `sextant up` starts agents without --netns: the control plane only. An agent with the
        // default node services would put its overlay, L4LB and DNS state into the host namespace.
        env: { ...process.env, SEXTANT_NODE_SERVICES: 'control' },
      });
      await a.waitFor(/sextant agent \S+ registered/, 30_000);
      return a;
    },
  };
  return c;
}

export interface MarathonTask {
  id: string;
  host: string;
  ports: number[];
  state: string;
  slaveId?: string;
}

export async function appTasks(c: Cluster, appId: string): Promise<MarathonTask[]> {
  const r = await requestJson(`${c.marathon}/v2/apps${appId}/tasks`);
  if (r.status !== 200) throw new Error(`GET tasks: ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body as { tasks: MarathonTask[] }).tasks;
}

/** Wait until exactly n tasks of the app are RUNNING (and, optionally, match `also`). */
export function runningTasks(c: Cluster, appId: string, n: number, timeoutMs = 30_000, also: (ts: MarathonTask[]) => boolean = () => true): Promise<MarathonTask[]> {
  return eventually(
    async () => {
      const ts = (await appTasks(c, appId)).filter((x) => x.state === 'TASK_RUNNING');
      return ts.length === n && also(ts) ? ts : undefined;
    },
    timeoutMs,
    200,
    `${n} running tasks of ${appId}`,
  );
}

/** A command that serves HTTP on $PORT0 (bound to $HOST) and carries `marker` in its argv. */
export function httpServerCmd(marker: string): string {
  const js = `require("http").createServer((q,r)=>r.end(process.env.MESOS_TASK_ID)).listen(+process.env.PORT0,process.env.HOST)`;
  return `exec '${process.execPath}' -e '${js}' ${marker}`;
}

/** GET / of a task; RUNNING means the process started, so give it a moment to bind. */
export function httpGet(host: string, port: number): Promise<string> {
  return eventually(
    async () => (await fetch(`http://${host}:${port}/`, { signal: AbortSignal.timeout(3000) })).text(),
    10_000,
    100,
    `HTTP answer from ${host}:${port}`,
  );
}

/** Pids of live processes whose command line contains `marker`. */
/** SIGKILL, by PID, every process whose command line carries `marker`, when the test ends. */
export function killMarkedOnTeardown(t: Teardownable, marker: string): void {
  t.teardown(() => {
    for (const pid of processesWith(marker))
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  });
}

export function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (cmd.includes(marker)) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}
