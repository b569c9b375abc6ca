/**
 * Port range arithmetic: agents offer ranges (`[[31000, 32000]]`), tasks take single ports, Mesos
 * prints ranges as `"[31000-31001, 31005-31005]"`.
 */
import type { PortRange } from '../contracts/index.js';

export { formatRanges, portsToRanges } from '../common/port-ranges.js';

export function countPorts(ranges: PortRange[]): number {
  return ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);
}

export function inRanges(ranges: PortRange[], port: number): boolean {
  return ranges.some(([a, b]) => port >= a && port <= b);
}

/** Ranges minus a set of used ports. */
export function subtractPorts(ranges: PortRange[], used: Iterable<number>): PortRange[] {
  const taken = new Set(used);
  if (!taken.size) return ranges.map(([a, b]) => [a, b]);
  const out: PortRange[] = [];
  for (const [a, b] of ranges) {
    let start = a;
    const inside = [...taken].filter((p) => p >= a && p <= b).sort((x, y) => x - y);
    for (const p of inside) {
      if (p > start) out.push([start, p - 1]);
      start = p + 1;
    }
    if (start <= b) out.push([start, b]);
  }
  return out;
}

/**
 * Pick host ports for a task: `0` means any free port, any other number that exact port.
 * Returns undefined when the ranges cannot satisfy the request. Fixed ports are taken first so a
 * wildcard never steals a port a later fixed request needs.
 */
export function allocatePorts(free: PortRange[], wanted: number[]): number[] | undefined {
  const taken = new Set<number>();
  const out: number[] = new Array(wanted.length);
  for (let i = 0; i < wanted.length; i++) {
    const p = wanted[i]!;
    if (p === 0) continue;
    if (!inRanges(free, p) || taken.has(p)) return undefined;
    taken.add(p);
    out[i] = p;
  }
  for (let i = 0; i < wanted.length; i++) {
    if (wanted[i] !== 0) continue;
    const p = firstFree(free, taken);
    if (p === undefined) return undefined;
    taken.add(p);
    out[i] = p;
  }
  return out;
}

function firstFree(free: PortRange[], taken: Set<number>): number | undefined {
  for (const [a, b] of free) for (let p = a; p <= b; p++) if (!taken.has(p)) return p;
  return undefined;
}
