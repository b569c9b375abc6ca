/**
 * Waiting for a network change to reach the agents. The master answers each network or isolation
 * write with the control-plane version that carries it (`X-Sextant-Control-Version`: the version
 * the write was published in, or the current one when it changed nothing), and each agent
 * acknowledges the version it applied (`GET /v1/control/agents`). The wait is done once every
 * connected agent applied that version or a later one; a version another writer published after
 * ours does not end it early, and an idempotent write waits for the version already carrying it.
 * An agent that refused the version (NACK) will not apply it by waiting: the wait ends at once and
 * names it. Bounded by `timeoutMs`; the clock and the pause are injected (tests).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { CONTROL_VERSION_HEADER } from '../contracts/index.js';
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
  /** The master runs a control plane but did not name the version carrying the write (it could not publish it in time). */
  | { waited: 'unknown' }
  | { waited: 'timeout' | 'refused'; version: number; lagging: string[] };

/** The version a write's answer names, or undefined (no control plane; a malformed value counts as none). */
export function carriedVersion(headers: IncomingHttpHeaders): number | undefined {
  const v = headers[CONTROL_VERSION_HEADER];
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;
}

export interface WaitAppliedOptions {
  /** The control-plane version that carries the write (carriedVersion of its answer). */
  version: number;
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
  for (;;) {
    const s = await read();
    if (!s) return { waited: 'no-control' };
    const l = lagging(s, o.version);
    o.onProgress?.(l.total - l.lines.length, l.total);
    if (!l.lines.length) return { waited: 'applied', version: o.version, agents: l.total };
    if (l.refused) return { waited: 'refused', version: o.version, lagging: l.lines };
    if (clock.now() >= end) return { waited: 'timeout', version: o.version, lagging: l.lines };
    await clock.sleep(o.pollMs ?? 200);
  }
}
