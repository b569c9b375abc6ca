/**
 * Which backends are failing: a backend whose failure rate over the last minute reaches the
 * threshold, on at least `minConnections` connections, is unhealthy with a reason. Hysteresis: it is
 * healthy again only once the rate falls below `recoverBelow` (default half the threshold) on at
 * least `minConnections`, or once `holdMs` passed without enough connections to judge (a drained
 * backend gets no traffic: it is then given traffic again, and judged again). Time comes from the
 * caller, so tests drive it with an injected clock.
 */

export interface JudgeOptions {
  /** Failure rate (0..1] at or above which a backend is unhealthy (`--vip-failure-threshold`, default 0.5). */
  threshold?: number;
  /** Connections in the window needed to judge (`--vip-failure-min-connections`, default 10). */
  minConnections?: number;
  /** Rate under which an unhealthy backend is healthy again (default threshold / 2). */
  recoverBelow?: number;
  /** How long an unhealthy backend stays so without enough connections to judge (default 60 s). */
  holdMs?: number;
}

export interface Verdict {
  unhealthy: boolean;
  reason?: string;
  /** Since when it is unhealthy (ms). */
  since?: number;
}

/** What the judge reads per (VIP, backend): connections and failures over the decision window. */
export interface Evidence {
  /** Connections from nodes that measure failures. */
  judged: number;
  failures: number;
  /** The nodes whose failures make up `failures` (for the reason). */
  failingNodes: string[];
}

interface State {
  since: number;
  reason: string;
  /** Last time the evidence still said failing. */
  lastBad: number;
}

export const DEFAULT_THRESHOLD = 0.5;
export const DEFAULT_MIN_CONNECTIONS = 10;

export function checkThreshold(v: number, what: string): number {
  if (!(Number.isFinite(v) && v > 0 && v <= 1)) throw new RangeError(`${what} ${v} must be a failure rate in (0, 1]`);
  return v;
}

export class BackendJudge {
  readonly threshold: number;
  readonly minConnections: number;
  readonly recoverBelow: number;
  readonly holdMs: number;
  private readonly states = new Map<string, State>();

  constructor(o: JudgeOptions = {}) {
    this.threshold = checkThreshold(o.threshold ?? DEFAULT_THRESHOLD, 'the failure threshold');
    this.minConnections = Math.max(1, o.minConnections ?? DEFAULT_MIN_CONNECTIONS);
    this.recoverBelow = o.recoverBelow ?? this.threshold / 2;
    if (!(this.recoverBelow >= 0 && this.recoverBelow <= this.threshold)) throw new RangeError(`recoverBelow ${this.recoverBelow} must be within [0, threshold ${this.threshold}]`);
    this.holdMs = o.holdMs ?? 60_000;
  }

  /**
   * Judge every (VIP, backend) key of `evidence` at `now`; keys not in it keep their verdict until
   * `holdMs` passed. Returns whether any verdict changed.
   */
  evaluate(evidence: Map<string, Evidence>, now: number): boolean {
    let changed = false;
    for (const [key, e] of evidence) {
      const s = this.states.get(key);
      if (e.judged >= this.minConnections) {
        const rate = e.failures / e.judged;
        if (!s && rate >= this.threshold) {
          const reason = `failure rate ${rate.toFixed(2)} (${e.failures} of ${e.judged} connections in the last minute${e.failingNodes.length ? `, seen from ${e.failingNodes.join(', ')}` : ''}) is at or above the threshold ${this.threshold}`;
          this.states.set(key, { since: now, reason, lastBad: now });
          changed = true;
        } else if (s && rate < this.recoverBelow) {
          this.states.delete(key);
          changed = true;
        } else if (s) s.lastBad = now;
      }
    }
    for (const [key, s] of this.states) {
      const e = evidence.get(key);
      if ((e === undefined || e.judged < this.minConnections) && now - s.lastBad >= this.holdMs) {
        this.states.delete(key);
        changed = true;
      }
    }
    return changed;
  }

  verdict(key: string): Verdict {
    const s = this.states.get(key);
    return s ? { unhealthy: true, reason: s.reason, since: s.since } : { unhealthy: false };
  }

  unhealthyKeys(): string[] {
    return [...this.states.keys()].sort();
  }
}
