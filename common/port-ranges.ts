/**
 * Port range arithmetic shared by master and agent: agents offer ranges (`[[31000, 32000]]`),
 * tasks take single ports, Mesos prints ranges as `"[31000-31001, 31005-31005]"`.
 */

/** Inclusive port range [begin, end]. */
export type PortRange = [number, number];

/** Mesos text form of a list of ranges. */
export function formatRanges(ranges: PortRange[]): string {
  return `[${ranges.map(([a, b]) => `${a}-${b}`).join(', ')}]`;
}

/** Collapse single ports into sorted inclusive ranges. */
export function portsToRanges(ports: number[]): PortRange[] {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const out: PortRange[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] + 1 === p) last[1] = p;
    else out.push([p, p]);
  }
  return out;
}
