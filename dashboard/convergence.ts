/**
 * Control-plane convergence history for the dashboard's chart: each snapshot version the master
 * published, when the change that made it happened, and when every connected agent had applied it
 * (the latest ACK time among them). Fed with `/v1/control/agents` samples and the master's change
 * notifications; keeps the last hour, at most `max` entries.
 *
 * The change time is the first change a snapshot part's source signalled (`changed()`) since the
 * previous version, when one is pending; a signal that made no new version within `staleMs` is
 * forgotten (sources also signal changes that leave their part as it was). Without one it is the
 * sample that first saw the version. So a point can include up to `staleMs` of an earlier signal.
 */
export interface ControlSample {
  version: number;
  agents: { agent_id: string; connected: boolean; applied: number; last_ack_at: string | null }[];
}

export interface Convergence {
  version: number;
  /** ms since the epoch of the change that made this version (or the sample that first saw it). */
  changed_at: number;
  /** ms since the epoch every connected agent had ACKed it; null while some has not. */
  converged_at: number | null;
  /** converged_at - changed_at in seconds (0 when the ACKs came before the sample saw the version). */
  seconds: number | null;
  /** Agents connected when it converged (or now, while open). */
  agents: number;
}

export class ConvergenceTracker {
  private entries: Convergence[] = [];
  private pending?: number;
  constructor(
    private readonly windowMs = 3_600_000,
    private readonly max = 3600,
    private readonly staleMs = 1000,
  ) {}

  /** A snapshot part's source signalled a change at `now`: a new version may follow. */
  changed(now: number): void {
    this.pending ??= now;
  }

  observe(s: ControlSample, now: number): void {
    let cur = this.entries.at(-1);
    if (!cur || cur.version !== s.version) {
      const at = this.pending !== undefined && this.pending <= now ? this.pending : now;
      this.pending = undefined;
      cur = { version: s.version, changed_at: at, converged_at: null, seconds: null, agents: 0 };
      this.entries.push(cur);
    } else if (this.pending !== undefined && now - this.pending > this.staleMs) this.pending = undefined;
    const connected = s.agents.filter((a) => a.connected);
    cur.agents = connected.length;
    if (cur.converged_at === null && connected.length > 0 && connected.every((a) => a.applied >= s.version)) {
      const acks = connected.map((a) => (a.last_ack_at ? Date.parse(a.last_ack_at) : NaN)).filter(Number.isFinite);
      const at = Math.min(now, acks.length ? Math.max(...acks) : now);
      cur.converged_at = Math.max(at, cur.changed_at);
      cur.seconds = (cur.converged_at - cur.changed_at) / 1000;
    }
    while (this.entries.length > this.max || (this.entries.length > 1 && this.entries[0]!.changed_at < now - this.windowMs)) this.entries.shift();
  }

  list(): Convergence[] {
    return this.entries.map((e) => ({ ...e }));
  }
}
