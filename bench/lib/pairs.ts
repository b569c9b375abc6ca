/** Paired runs of two paths (a baseline and the path under test), for every benchmark that compares them. */
import { measuredSteal } from './steal.js';

export interface Pair {
  direct: number[];
  via: number[];
  /** Share of CPU stolen by the hypervisor during each pair (0 inside UML, which cannot see it). */
  steal: number[];
}

/**
 * Direct and VIP runs in pairs whose order flips every pair (direct first, then VIP first), so
 * drift in machine load and whatever one run leaves behind for the next hit both paths alike.
 */
export async function alternate(runs: number, direct: () => Promise<number>, via: () => Promise<number>): Promise<Pair> {
  const p: Pair = { direct: [], via: [], steal: [] };
  const d = async () => p.direct.push(await direct());
  const v = async () => p.via.push(await via());
  for (let i = 0; i < runs; i++) {
    const { steal } = await measuredSteal(async () => {
      for (const run of i % 2 === 0 ? [d, v] : [v, d]) await run();
    });
    p.steal.push(steal);
  }
  return p;
}
