/**
 * CPU steal: time the hypervisor ran other guests while this VM wanted the CPU (`steal` in
 * /proc/stat). Benchmarks on a shared VM report it beside their runs, so a slow run can be told
 * from a slow path. Inside User-Mode-Linux the field stays 0: measure there from the host.
 */
import { readFileSync } from 'node:fs';
import { median } from './stats.js';

export interface CpuTimes {
  total: number;
  steal: number;
}

/** All CPUs' jiffies since boot from the first line of /proc/stat (zeros where there is none). */
export function cpuTimes(stat = '/proc/stat'): CpuTimes {
  let line = '';
  try {
    line = readFileSync(stat, 'utf8').split('\n', 1)[0] ?? '';
  } catch {
    return { total: 0, steal: 0 };
  }
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already counted in user).
  return { total: f.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0), steal: f[7] ?? 0 };
}

/** Share (0..1) of CPU time stolen between two readings; 0 when no time passed. */
export const stealShare = (a: CpuTimes, b: CpuTimes): number => (b.total > a.total ? (b.steal - a.steal) / (b.total - a.total) : 0);

/** Runs `fn` and returns its value with the share of CPU stolen meanwhile. */
export async function measuredSteal<T>(fn: () => Promise<T>): Promise<{ value: T; steal: number }> {
  const a = cpuTimes();
  const value = await fn();
  return { value, steal: stealShare(a, cpuTimes()) };
}

/** "CPU steal 3% median, 11% max over the runs", from runs' steal shares. */
export function stealNote(shares: number[]): string {
  if (!shares.length) return 'steal not measured';
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  return `CPU steal ${pct(median(shares))} median, ${pct(Math.max(...shares))} max over the runs`;
}
