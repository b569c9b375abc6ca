/** The host CPUs this process may run on (its affinity), for benches that pin work to CPUs. */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** `0-1,4,6-7` (Cpus_allowed_list) -> [0, 1, 4, 6, 7]. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    if (!Number.isInteger(a) || (b !== undefined && !Number.isInteger(b))) throw new Error(`not a CPU list: ${JSON.stringify(list)}`);
    for (let c = a!; c <= (b ?? a!); c++) out.push(c);
  }
  return out;
}

/** From /proc/self/status; without it, 0..availableParallelism()-1. */
export function allowedCpus(): number[] {
  try {
    const m = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return parseCpuList(m[1]!);
  } catch {
    /* not Linux */
  }
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}
