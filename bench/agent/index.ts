/**
 * Launch benchmark (issue 2): 1,000 `sleep` tasks over 4 agents through Marathon -> time until
 * all are TASK_RUNNING in /master/state, and the master's RSS (VmRSS from /proc). Peer: the same
 * 1,000 processes spawned directly from one Node process (the floor any scheduler pays), reported
 * as a ratio. Bounded (3 minutes for the launch) and cleaned up (DELETE, then the cluster stops).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomInt, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestJson } from '../../common/http.js';
import { startCluster, parseUpArgs } from '../../cli/up.js';

const TASKS = 1000;
const AGENTS = 4;

function rssMiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

async function freePort(host: string): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const p = (s.address() as import('node:net').AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** Floor: spawn the same processes directly and wait until each has started. */
async function directSpawn(n: number): Promise<number> {
  const t0 = performance.now();
  const kids = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof spawn>>((resolve) => {
      const c = spawn('sh', ['-c', 'sleep 600'], { detached: true, stdio: 'ignore' });
      c.once('spawn', () => resolve(c));
    })),
  );
  const ms = performance.now() - t0;
  for (const c of kids) c.pid && process.kill(-c.pid, 'SIGKILL');
  return ms;
}

async function countRunning(master: string): Promise<number> {
  const st = (await requestJson(`${master}/master/state`, { timeoutMs: 10000 })).body as { frameworks: { tasks: { state: string }[] }[] };
  return st.frameworks.reduce((n, f) => n + f.tasks.filter((x) => x.state === 'TASK_RUNNING').length, 0);
}

export async function bench(): Promise<string> {
  const ipBase = `127.${randomInt(1, 250)}.${randomInt(1, 250)}`;
  const workDir = mkdtempSync(join(tmpdir(), `sxbench-${randomBytes(2).toString('hex')}-`));
  const o = parseUpArgs(['--agents', String(AGENTS), '--no-example', '--work-dir', workDir, '--ip-base', ipBase, '--port-base', String(randomInt(20, 50) * 1000)]);
  o.masterPort = await freePort('127.0.0.1');
  o.marathonPort = await freePort('127.0.0.1');
  o.agentPort = await freePort('127.0.0.1');
  const cluster = await startCluster(o);
  const rows: string[] = [];
  try {
    const masterPid = cluster.masterPid;
    const rssIdle = rssMiB(masterPid);
    const t0 = performance.now();
    const res = await requestJson(`${cluster.marathonUrl}/v2/apps`, { body: { id: '/bench/sleep', cmd: 'sleep 600', instances: TASKS, cpus: 0.01, mem: 1, portDefinitions: [] } });
    if (res.status !== 201) throw new Error(`POST app: ${res.status} ${JSON.stringify(res.body)}`);
    let running = 0;
    let peakRss = rssIdle;
    const deadline = Date.now() + 180_000;
    while (running < TASKS && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      running = await countRunning(cluster.masterUrl);
      peakRss = Math.max(peakRss, rssMiB(masterPid));
    }
    const launchMs = performance.now() - t0;
    const rssLoaded = rssMiB(masterPid);
    const direct = await directSpawn(TASKS);
    rows.push(
      `Launch of ${TASKS} \`sleep\` tasks over ${AGENTS} agents (Marathon app, one POST, 0.01 cpu / 1 MiB each):`,
      '',
      '| measure | value |',
      '| --- | --- |',
      `| tasks RUNNING at the end | ${running} / ${TASKS}${running < TASKS ? ' (timed out at 180 s)' : ''} |`,
      `| time from POST /v2/apps to all TASK_RUNNING in /master/state | ${(launchMs / 1000).toFixed(2)} s (${((running / launchMs) * 1000).toFixed(0)} tasks/s) |`,
      `| master RSS idle / with ${TASKS} tasks / peak during launch | ${rssIdle.toFixed(0)} / ${rssLoaded.toFixed(0)} / ${peakRss.toFixed(0)} MiB |`,
      `| peer: the same ${TASKS} processes spawned directly by one Node process | ${(direct / 1000).toFixed(2)} s |`,
      `| ratio sextant / direct spawn | ${(launchMs / direct).toFixed(1)}x |`,
      '',
      'Time to RUNNING is polled every 250 ms from /master/state (so it includes up to 250 ms of polling slack).',
    );
    await requestJson(`${cluster.marathonUrl}/v2/apps/bench/sleep?force=true`, { method: 'DELETE', timeoutMs: 30000 });
    const end = Date.now() + 60_000;
    while (Date.now() < end && (await countRunning(cluster.masterUrl)) > 0) await new Promise((r) => setTimeout(r, 500));
  } finally {
    await cluster.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  return rows.join('\n');
}
