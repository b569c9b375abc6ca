/**
 * High availability on ZooKeeper (issue 25, "Speed"): failover time over BENCH_HA_KILLS kill -9 of
 * the leader with BENCH_HA_AGENTS simulated agents, app-update writes on the ZooKeeper store vs the
 * file store (same run), and a new leader loading 10,000 tasks. BENCH_HA=failover,writes,load
 * picks parts; the page keeps the sections of parts not run (bench/lib/sections.ts).
 */
import { cpus, loadavg } from 'node:os';
import { cpuTimes, stealShare } from '../lib/steal.js';
import { failover, failoverTable } from './failover.js';
import { loadTable, loadTime } from './load.js';
import { requireBuild } from './procs.js';
import { writes, writesTable } from './writes.js';

const num = (name: string, dflt: number) => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${v}: not a positive integer`);
  return n;
};

const log = (s: string) => console.log(`bench ha: ${s}`);

export async function bench(): Promise<string> {
  requireBuild();
  const parts = (process.env.BENCH_HA ?? 'failover,writes,load').split(',').map((s) => s.trim());
  const out: string[] = [];
  const load = () => `load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} CPUs`;
  if (parts.includes('failover')) {
    // One failover series per session timeout (BENCH_HA_FAILOVER_SESSIONS), the same run.
    const sessions = (process.env.BENCH_HA_FAILOVER_SESSIONS ?? '4000,2000').split(',').map((x) => Number(x.trim()));
    if (sessions.some((x) => !Number.isInteger(x) || x < 400)) throw new Error(`BENCH_HA_FAILOVER_SESSIONS=${process.env.BENCH_HA_FAILOVER_SESSIONS}: session timeouts in ms, each at least 400`);
    out.push('## Failover', '');
    for (const sessionMs of sessions) {
      const o = { kills: num('BENCH_HA_KILLS', 20), agents: num('BENCH_HA_AGENTS', 100), sessionMs, tasksPerAgent: 2 };
      const a = cpuTimes();
      const r = await failover(o, log);
      const steal = stealShare(a, cpuTimes());
      out.push(`### ZooKeeper session timeout ${sessionMs} ms`, '', `Run: ${load()} at the end, CPU steal ${(steal * 100).toFixed(0)}% over the part.`, '', failoverTable(o, r));
    }
  }
  const sessionMs = num('BENCH_HA_SESSION_MS', 4000);
  if (parts.includes('writes')) {
    const a = cpuTimes();
    const r = await writes({ sessionMs }, log);
    const steal = stealShare(a, cpuTimes());
    out.push('## App updates: ZooKeeper store vs file store', '', `Run: ${load()} at the end, CPU steal ${(steal * 100).toFixed(0)}% over the part.`, '', writesTable(r));
  }
  if (parts.includes('load')) {
    const a = cpuTimes();
    const o = { rounds: num('BENCH_HA_LOAD_ROUNDS', 3), sessionMs };
    const r = await loadTime(o, log);
    const steal = stealShare(a, cpuTimes());
    out.push('## A new leader loading 10,000 tasks', '', `Run: ${load()} at the end, CPU steal ${(steal * 100).toFixed(0)}% over the part.`, '', loadTable(o, r));
  }
  return out.join('\n');
}
