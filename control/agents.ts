/** Per-agent convergence bookkeeping on the master: what was sent, applied and failed. */
import type { AgentStatus, ControlStatus, PartName } from '../contracts/index.js';

export type { AgentStatus, ControlStatus };

interface Row {
  agent_id: string;
  connected: number; // open streams
  peer: string;
  parts: PartName[];
  history: string;
  last_sent: number;
  applied: number;
  applied_history: string;
  failed: number | null;
  error: string | null;
  connected_at: number;
  last_ack_at: number | null;
}

export class AgentTable {
  private rows = new Map<string, Row>();

  connect(id: string, peer: string, parts: PartName[], history: string, version: number, now: number): void {
    const r = this.rows.get(id);
    if (r) {
      r.connected++;
      Object.assign(r, { peer, parts, connected_at: now });
      return;
    }
    this.rows.set(id, {
      agent_id: id,
      connected: 1,
      peer,
      parts,
      history,
      last_sent: 0,
      applied: version,
      applied_history: history,
      failed: null,
      error: null,
      connected_at: now,
      last_ack_at: null,
    });
  }

  disconnect(id: string): void {
    const r = this.rows.get(id);
    if (r && r.connected > 0) r.connected--;
  }

  sent(id: string, history: string, version: number): void {
    const r = this.rows.get(id);
    if (r) Object.assign(r, { history, last_sent: version });
  }

  ack(id: string, history: string, version: number, now: number): void {
    const r = this.rows.get(id);
    if (!r) return;
    Object.assign(r, { applied: version, applied_history: history, last_ack_at: now });
    if (r.failed !== null && r.failed <= version) Object.assign(r, { failed: null, error: null });
  }

  nack(id: string, version: number, error: string, now: number): void {
    const r = this.rows.get(id);
    if (r) Object.assign(r, { failed: version, error, last_ack_at: now });
  }

  lag(id: string, history: string, version: number): number {
    const r = this.rows.get(id);
    if (!r) return version;
    return r.applied_history === history ? Math.max(0, version - r.applied) : version;
  }

  lags(history: string, version: number): [string, number][] {
    return [...this.rows.keys()].map((id) => [id, this.lag(id, history, version)]);
  }

  status(history: string, version: number): ControlStatus {
    const agents = [...this.rows.values()]
      .sort((a, b) => a.agent_id.localeCompare(b.agent_id))
      .map((r) => ({
        agent_id: r.agent_id,
        connected: r.connected > 0,
        peer: r.peer,
        parts: r.parts,
        history: r.history,
        last_sent: r.last_sent,
        applied: r.applied,
        failed: r.failed,
        error: r.error,
        lag: this.lag(r.agent_id, history, version),
        connected_at: new Date(r.connected_at).toISOString(),
        last_ack_at: r.last_ack_at === null ? null : new Date(r.last_ack_at).toISOString(),
      }));
    return { history, version, agents };
  }
}
