/**
 * Polling `/master/state` every RefreshSeconds, for use against any Mesos-compatible master. The
 * last known leader is tried first, then every configured master; a state whose `leader` is
 * another master is fetched again from that leader (mesos-dns LoadMasterStateTryAll/Failover).
 * A failed or malformed poll keeps the old records and logs why.
 */
import { systemClock, type Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { Component } from '../../common/daemon.js';
import type { MesosDns } from './mesosdns.js';
import { splitHostPort } from './state.js';

export type FetchState = (hostPort: string, timeoutMs: number) => Promise<unknown>;

export async function httpFetchState(hostPort: string, timeoutMs: number, https = false): Promise<unknown> {
  const res = await fetch(`${https ? 'https' : 'http'}://${hostPort}/master/state`, {
    headers: { 'content-type': 'application/json', 'user-agent': 'Mesos-DNS' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 200) throw new Error(`GET ${hostPort}/master/state: HTTP ${res.status}`);
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`GET ${hostPort}/master/state: not JSON: ${(e as Error).message}`);
  }
}

function leaderHostPort(state: unknown): string | undefined {
  const l = state && typeof state === 'object' ? (state as { leader?: unknown }).leader : undefined;
  if (typeof l !== 'string') return undefined;
  const addr = l.split('@')[1];
  if (!addr || !splitHostPort(addr)) return undefined;
  return addr.includes(':') && !addr.startsWith('[') && addr.split(':').length > 2 ? `[${addr}]` : addr;
}

export interface PollerOptions {
  target: MesosDns;
  masters: string[];
  refreshSeconds: number;
  timeoutSeconds: number;
  log: Logger;
  fetchState?: FetchState;
  clock?: Clock;
}

export class Poller implements Component {
  readonly name = 'mesos-dns-poller';
  private timer: unknown;
  private leader = '';
  private stopped = true;
  private running?: Promise<boolean>;

  constructor(private readonly o: PollerOptions) {}

  /** One fetch from the leader (or any master); resolves false when records were kept. */
  async pollOnce(): Promise<boolean> {
    const fetchState = this.o.fetchState ?? httpFetchState;
    const ms = this.o.timeoutSeconds * 1000;
    const candidates = [...new Set([this.leader, ...this.o.masters].filter(Boolean))];
    if (candidates.length === 0) {
      this.o.log.error('no_masters', { why: 'no masters given to fetch state from' });
      this.o.target.metrics.refreshFailures.inc({ reason: 'no_masters' });
      return false;
    }
    let lastErr: unknown;
    for (const m of candidates) {
      try {
        let state = await fetchState(m, ms);
        const leader = leaderHostPort(state);
        if (!leader) throw new Error(`state from ${m} does not contain leader information`);
        if (leader !== m) state = await fetchState(leader, ms);
        this.leader = leader;
        const ok = await this.o.target.setState(state, this.o.masters);
        if (!ok) this.o.log.warn('poll_kept_old_records', { master: m, why: 'malformed state' });
        return ok;
      } catch (e) {
        lastErr = e;
        this.o.log.warn('state_fetch_failed', { master: m, err: e });
      }
    }
    this.o.target.metrics.refreshFailures.inc({ reason: 'fetch_failed' });
    this.o.log.error('poll_kept_old_records', { err: lastErr, why: 'no master answered' });
    return false;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.tick();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.running = this.pollOnce().catch(() => false);
    await this.running;
    if (this.stopped) return;
    const clock = this.o.clock ?? systemClock;
    this.timer = clock.setTimeout(() => void this.tick(), this.o.refreshSeconds * 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    (this.o.clock ?? systemClock).clearTimeout(this.timer);
    await this.running;
  }
}
