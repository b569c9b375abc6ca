/**
 * A real cluster for the agent-process bench (agent.ts): `sextant master` (services overlay, l4lb,
 * control), a worker `sextant agent` that runs the tasks (no node services) and the measured `sextant
 * agent` (the default node services, nftables driver), each in a network namespace of its own on one
 * bridge (test/lib bridgeNamespaces: nothing on the host's links). HTTP goes through `curl` run in the
 * master's namespace; the measured agent's log lines are read as they come. Everything is stopped
 * by PID and deleted by `close()`, in reverse order, even after a failure.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killCheckpointedTasks } from '../../agent/index.js';
import { bridgeNamespaces, createNetns, spawnTracked, stopPids, uniqueName, type Netns, type Tracked } from '../../test/lib/index.js';
import { fileURLToPath } from 'node:url';

export const WORKER = 'bench-worker';

/** The built CLI: beside this module under dist/, or dist/ of the checkout when run from source. */
const sextantJs = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../dist/cli/sextant.js' : '../../cli/sextant.js', import.meta.url));

export interface LogLine {
  event?: string;
  [k: string]: unknown;
}

export interface AgentCluster {
  mip: string;
  aip: string;
  agentPid: number;
  agentNs: Netns;
  dir: string;
  /** HTTP from the master's namespace: status and parsed body (text when not JSON). */
  http(method: string, url: string, body?: unknown, timeoutMs?: number): Promise<{ status: number; body: any }>;
  /** The next log line of the measured agent (after this call) that `match` accepts. */
  nextLog(match: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine>;
  /** The measured agent's last warn and error lines (at most 20). */
  problems(): LogLine[];
  close(): Promise<void>;
}

/** Collects cleanups (the Teardownable of test/lib) and runs them last-first. */
class Cleanups {
  private fns: (() => unknown)[] = [];
  teardown(fn: () => unknown): void {
    this.fns.push(fn);
  }
  async run(): Promise<void> {
    for (const fn of this.fns.reverse()) {
      try {
        await fn();
      } catch {
        /* keep cleaning */
      }
    }
    this.fns = [];
  }
}

function curlIn(ns: Netns, method: string, url: string, body: unknown, timeoutMs: number): Promise<{ status: number; body: any }> {
  const [cmd, args] = ns.wrap('curl', ['-sS', '-m', String(Math.ceil(timeoutMs / 1000)), '-X', method, '-H', 'content-type: application/json', '-o', '-', '-w', '\n%{http_code}', ...(body === undefined ? [] : ['--data-binary', '@-']), url]);
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [body === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl ${method} ${url}: exit ${code}: ${err.trim().slice(0, 300)}`));
      const cut = out.lastIndexOf('\n');
      const text = out.slice(0, cut);
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* text */
      }
      resolve({ status: Number(out.slice(cut + 1)), body: parsed });
    });
    if (body !== undefined) p.stdin!.end(JSON.stringify(body));
  });
}

/** `nodeArgs`: Node flags for the measured agent only (e.g. `--cpu-prof --cpu-prof-dir=DIR`). */
export async function startAgentCluster(nodeArgs: string[] = []): Promise<AgentCluster> {
  if (!existsSync(sextantJs)) throw new Error(`${sextantJs} is missing: run \`npm run build\` first`);
  const c = new Cleanups();
  try {
    const dir = mkdtempSync(join(tmpdir(), `${uniqueName('agentb')}-`));
    c.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const [mns, wns, ans] = [await createNetns(c, 'abm'), await createNetns(c, 'abw'), await createNetns(c, 'aba')];
    const { addrs } = await bridgeNamespaces(c, [mns, wns, ans], '10.97.0');
    const [mip, wip, aip] = addrs as [string, string, string];
    const env = { ...process.env, SEXTANT_LOG_LEVEL: 'warn' };
    const procs: Tracked[] = [];
    // Stop the agents first (each kills its tasks), then the master; then whatever is left, by PID.
    c.teardown(async () => {
      for (const p of procs.slice().reverse()) {
        p.kill('SIGTERM');
        await Promise.race([p.exited, new Promise((r) => setTimeout(r, 20_000))]);
      }
      await stopPids(procs.map((p) => p.pid), 5000);
      for (const d of ['worker', 'agent']) killCheckpointedTasks(join(dir, d));
    });
    const start = (ns: Netns, args: string[], extra: Record<string, string>, nodeArgs: string[] = []) => {
      const [cmd, argv] = ns.wrap(process.execPath, [...nodeArgs, sextantJs, ...args]);
      const p = spawnTracked(c, cmd, argv, { env: { ...env, ...extra }, graceMs: 20_000 });
      procs.push(p);
      return p;
    };
    const master = start(mns, ['master', '--ip', mip, '--work-dir', join(dir, 'master'), '--insecure-dev'], { SEXTANT_MASTER_SERVICES: 'overlay,l4lb,control' });
    await master.waitFor(/sextant master listening on http/, 60_000);
    const worker = start(wns, ['agent', '--master', `${mip}:5050`, '--ip', wip, '--hostname', WORKER, '--work-dir', join(dir, 'worker'), '--resources', 'cpus:64;mem:262144;disk:100000;ports:[20000-52000]', '--kill-tasks-on-exit', '--insecure-dev'], { SEXTANT_NODE_SERVICES: '' });
    await worker.waitFor(/sextant agent \S+ registered/, 60_000);
    const agent = start(ans, ['agent', '--master', `${mip}:5050`, '--ip', aip, '--hostname', 'bench-measured', '--work-dir', join(dir, 'agent'), '--kill-tasks-on-exit', '--insecure-dev'], { SEXTANT_L4LB_DRIVER: 'nftables', SEXTANT_LOG_LEVEL: 'info' }, nodeArgs);
    await agent.waitFor(/sextant agent \S+ registered/, 60_000);

    // The measured agent's log lines, one JSON object each, to whoever waits for one.
    const waiters = new Set<(l: LogLine) => void>();
    const problems: LogLine[] = [];
    let partial = '';
    agent.child.stderr!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        let l: LogLine;
        try {
          l = JSON.parse(line) as LogLine;
        } catch {
          continue;
        }
        if (l.level === 'warn' || l.level === 'error') problems.splice(0, problems.length - 19, l);
        for (const w of waiters) w(l);
      }
    });
    return {
      mip,
      aip,
      agentPid: agent.pid,
      agentNs: ans,
      dir,
      http: (method, url, body, timeoutMs = 30_000) => curlIn(mns, method, url, body, timeoutMs),
      nextLog(match, timeoutMs, what) {
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            waiters.delete(w);
            reject(new Error(`no ${what} from the agent within ${timeoutMs} ms`));
          }, timeoutMs);
          const w = (l: LogLine) => {
            if (!match(l)) return;
            clearTimeout(timer);
            waiters.delete(w);
            resolve(l);
          };
          waiters.add(w);
        });
      },
      problems: () => problems.slice(),
      close: () => c.run(),
    };
  } catch (e) {
    await c.run();
    throw e;
  }
}

/** A process's memory from /proc: VmRSS, VmHWM and the anonymous / file-backed split of RSS, in MiB. */
export function procMemory(pid: number): { rss: number; hwm: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
}

/** CPU time of every thread of a process so far (schedstat: nanoseconds on a CPU), in ms. */
export function procCpuMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* the thread ended */
    }
  }
  return ns / 1e6;
}
