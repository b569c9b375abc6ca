/**
 * A `sextant up --netns` cluster for end-to-end tests: real master and agent processes, each agent
 * in its own network namespace with the default node services, on free ports. Teardown stops it
 * with SIGINT (what an operator does) and then, whatever happened, kills what it printed by PID,
 * kills tasks still checkpointed in the agents' work dirs, and deletes the cluster's namespaces and
 * the task namespaces of every task the agents recorded.
 *
 * Task namespaces are created by the agent inside its own mount namespace (`ip netns exec` gives
 * each agent one), so they are bind-mounted only there: `inAgent()` runs a command in an agent's
 * mount + network namespace, where `ip netns exec <task ns>` works.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { killCheckpointedTasks } from '../../agent/index.js';
import { INSECURE_DEV, deleteNetns, freePort, spawnTracked, stopPids, uniqueName, type Tracked } from '../lib/index.js';
import { sextantJs } from './backbone-lib.js';

const pexec = promisify(execFile);

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export interface NetnsCluster {
  up: Tracked;
  workDir: string;
  /** Per-run prefix of the cluster's namespaces (`sxup<hex>`). */
  prefix: string;
  master: string;
  marathon: string;
  /** Agent i (1-based): its IP, namespace, pid (as printed by `sextant up`), id and work dir. */
  agents: { ip: string; ns: string; pid: number; id: string; dir: string }[];
  /** Run argv inside agent i's mount and network namespace (1-based); resolves stdout. */
  inAgent(i: number, argv: string[], timeoutMs?: number): Promise<string>;
  /** Stop as an operator does (SIGINT to `sextant up`) and wait for it to exit. */
  stop(): Promise<number | null>;
}

/** The agent's name for a task's network namespace (cni/attacher.ts, default prefix). */
export function taskNetns(taskId: string): string {
  return `sextant-${createHash('sha1').update(taskId).digest('hex').slice(0, 12)}`;
}

export const netnsList = (): string[] =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);

function recordedTaskIds(dir: string): string[] {
  const tasks = join(dir, 'tasks');
  if (!existsSync(tasks)) return [];
  return readdirSync(tasks)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length));
}

export async function startNetnsUp(t: Teardownable, agents: number, env: Record<string, string> = {}, opts: { example?: boolean; args?: string[] } = {}): Promise<NetnsCluster> {
  if (!existsSync(sextantJs)) throw new Error(`${sextantJs} is missing: run \`npx tsc -p .\` (npm test builds it first)`);
  const workDir = mkdtempSync(join(tmpdir(), `${uniqueName('cniup')}-`));
  const [mp, mkp, ap] = [await freePort(), await freePort(), await freePort()];
  const up = spawnTracked(t, process.execPath, [sextantJs, 'up', '--netns', ...(opts.args ?? []), ...(opts.example ? [] : ['--no-example']), '--agents', String(agents), '--work-dir', workDir, '--master-port', String(mp), '--marathon-port', String(mkp), '--agent-port', String(ap), '--admin-port', String(await freePort()), ...INSECURE_DEV], {
    env: { ...process.env, ...env },
    graceMs: 20_000,
  });
  t.teardown(async () => {
    up.kill('SIGINT');
    await Promise.race([up.exited, new Promise((r) => setTimeout(r, 20_000))]);
    const out = up.output();
    await stopPids([...out.matchAll(/^(?:master|agent \d+): pid (\d+)/gm)].map((m) => Number(m[1])), 5000);
    const dirs = Array.from({ length: agents }, (_, i) => join(workDir, `agent-${i + 1}`));
    for (const d of dirs) killCheckpointedTasks(d);
    const names = new Set(netnsList());
    for (const d of dirs)
      for (const id of recordedTaskIds(d)) {
        const ns = taskNetns(id);
        if (names.has(ns)) deleteNetns(ns);
        rmSync(join('/etc/netns', ns), { recursive: true, force: true });
      }
    const pfx = out.match(/\((sxup[0-9a-f]{4})\*\)/)?.[1];
    if (pfx) for (const n of netnsList().filter((n) => n.startsWith(pfx))) deleteNetns(n);
    // The resolv.conf directories `up` writes for its agent namespaces (cli/up-netns.ts).
    if (pfx && existsSync('/etc/netns')) for (const d of readdirSync('/etc/netns').filter((d) => d.startsWith(pfx))) rmSync(join('/etc/netns', d), { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  });
  await up.waitFor(/sextant up: ready/, 60_000);
  const out = up.output();
  const prefix = out.match(/agents run in namespaces (sxup[0-9a-f]+)a1/)![1]!;
  const list = [...out.matchAll(/^agent (\d+): pid (\d+) http:\/\/([\d.]+):\d+ id (\S+) work dir (\S+)/gm)].map((m) => ({ ip: m[3]!, ns: `${prefix}a${m[1]}`, pid: Number(m[2]), id: m[4]!, dir: m[5]! }));
  if (list.length !== agents) throw new Error(`sextant up printed ${list.length} agents, wanted ${agents}:\n${out}`);
  return {
    up,
    workDir,
    prefix,
    master: `http://127.0.0.1:${mp}`,
    marathon: `http://127.0.0.1:${mkp}`,
    agents: list,
    async inAgent(i, argv, timeoutMs = 10_000) {
      const a = list[i - 1]!;
      const r = await pexec('nsenter', ['--target', String(a.pid), '--mount', '--net', '--', ...argv], { timeout: timeoutMs, encoding: 'utf8' });
      return r.stdout;
    },
    async stop() {
      up.kill('SIGINT');
      return up.exited;
    },
  };
}
