/**
 * Waiting for a network change to reach the agents: the master's control plane publishes the
 * change as a new version (coalesced, after it is saved), and each agent acknowledges the version
 * it applied (`GET /v1/control/agents`). The CLI reads the version before the write (`since`);
 * the change is carried by the first version published after it, and the wait is done once every
 * connected agent applied that version or a later one. An agent that refused it (NACK) will not
 * apply it by waiting: the wait ends at once and names it. Bounded by `timeoutMs`; the clock and
 * the pause are injected (tests).
 */
import type { ControlStatus } from '../control/index.js';

export interface WaitClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: WaitClock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

export type WaitOutcome =
  | { waited: 'applied'; version: number; agents: number }
  /** The master runs no control plane: there is nothing to wait for. */
  | { waited: 'no-control' }
  | { waited: 'skipped' }
  | { waited: 'timeout' | 'refused'; version: number | null; lagging: string[] };

export interface WaitAppliedOptions {
  /** The master's control-plane version read before the write. */
  since: number;
  timeoutMs: number;
  pollMs?: number;
  clock?: WaitClock;
  /** Called on every poll with the agents that applied the target version out of the connected ones. */
  onProgress?: (applied: number, total: number) => void;
}

/** The status, or undefined when the master has no control plane (404). */
export type StatusReader = () => Promise<ControlStatus | undefined>;

/** Which connected agents have not applied `target`, one line each; whether one refused it. */
export function lagging(s: ControlStatus, target: number): { lines: string[]; refused: boolean; total: number } {
  const active = s.agents.filter((a) => a.connected);
  const lines: string[] = [];
  let refused = false;
  for (const a of active) {
    if (a.failed !== null && a.failed >= target) {
      refused = true;
      lines.push(`${a.agent_id} refused version ${a.failed}: ${a.error ?? 'no error given'}`);
    } else if (a.applied < target) lines.push(`${a.agent_id} applied version ${a.applied} of ${target}`);
  }
  return { lines, refused, total: active.length };
}

export async function waitAgentsApplied(read: StatusReader, o: WaitAppliedOptions): Promise<WaitOutcome> {
  const clock = o.clock ?? realClock;
  const end = clock.now() + o.timeoutMs;
  let target: number | null = null;
  for (;;) {
    const s = await read();
    if (!s) return { waited: 'no-control' };
    if (target === null && s.version > o.since) target = s.version;
    if (target !== null) {
      const l = lagging(s, target);
      o.onProgress?.(l.total - l.lines.length, l.total);
      if (!l.lines.length) return { waited: 'applied', version: target, agents: l.total };
      if (l.refused) return { waited: 'refused', version: target, lagging: l.lines };
      if (clock.now() >= end) return { waited: 'timeout', version: target, lagging: l.lines };
    } else {
      o.onProgress?.(0, s.agents.filter((a) => a.connected).length);
      if (clock.now() >= end) return { waited: 'timeout', version: null, lagging: [`the master published no control-plane version after ${o.since}`] };
    }
    await clock.sleep(o.pollMs ?? 200);
  }
}
