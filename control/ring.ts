/**
 * Which master an agent prefers: consistent hashing (`consistent-hash`) over the master list, so
 * adding or losing a master moves only that master's share of agents. Control points come from a
 * hash of the master's address (the package would pick them at random), so every agent computes
 * the same ring from the same list, in any order.
 */
import { createHash } from 'node:crypto';
import ConsistentHash from 'consistent-hash';

const RANGE = 1_000_003;
const POINTS = 160;

function pointsFor(master: string): number[] {
  const out: number[] = [];
  for (let i = 0; out.length < POINTS; i++) {
    const h = createHash('sha256').update(`${master}#${i}`).digest();
    out.push(h.readUInt32BE(0) % RANGE);
  }
  return out;
}

export class MasterRing {
  private readonly ring = new ConsistentHash({ range: RANGE });
  readonly masters: string[];

  constructor(masters: readonly string[]) {
    this.masters = [...new Set(masters)].sort();
    for (const m of this.masters) this.ring.add(m, POINTS, pointsFor(m));
  }

  /** Masters in the order this agent should try them: preferred first. */
  order(agentId: string): string[] {
    if (!this.masters.length) return [];
    // The package's string hash clusters similar ids (agent-1, agent-2...): spread them first.
    const k = createHash('sha256').update(agentId).digest('hex').slice(0, 16);
    const nodes = this.ring.get(k, this.masters.length) as string[] | null;
    return nodes ?? [];
  }

  preferred(agentId: string): string | undefined {
    return this.order(agentId)[0];
  }
}
