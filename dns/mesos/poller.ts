/**
 * Polling `/master/state` every RefreshSeconds, for use against any Mesos-compatible master. The
 * last known leader is tried first, then every configured master; a state whose `leader` is
 * another master is fetched again from that leader (mesos-dns LoadMasterStateTryAll/Failover).
 * A failed or malformed poll keeps the old records and logs why.
 *
 * With `zk` (the config's `Zk`), a ZkDetector watches the Mesos znodes: its leader is tried first
 * and every leader change polls at once instead of waiting for the next RefreshSeconds.
 */
import { systemClock, type Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { Component } from '../../common/daemon.js';
import type { MesosDns } from './mesosdns.js';
import { createRegistry, type Registry } from '../../common/metrics.js';
import { splitHostPort } from './state.js';
import { bodyText, requestJson, type ClientTls } from '../../common/http.js';
import { readPem } from '../../common/tls-files.js';
import type { MesosDnsConfig } from './config.js';
import { ZkDetector, ZkMetrics, type ZkView } from './zk-detector.js';

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

/**
 * The poll as the config says (mesos-dns's own keys): `MesosHTTPSOn` polls over https, trusting
 * `CACertFile` and presenting `CertFile`/`KeyFile` as the client certificate (what a master under
 * mutual TLS requires; issue it with `spiffe://sextant/mesos-dns`). Files are read once, here: a
 * missing one is an error at start, not at every poll.
 */
export function configFetchState(c: Pick<MesosDnsConfig, 'MesosHTTPSOn' | 'CACertFile' | 'CertFile' | 'KeyFile'>): FetchState {
  if (!c.MesosHTTPSOn) return (hp, ms) => httpFetchState(hp, ms);
  if (!c.CACertFile) return (hp, ms) => httpFetchState(hp, ms, true);
  const tls: ClientTls = { ca: readPem(c.CACertFile, 'CACertFile'), ...(c.CertFile ? { cert: readPem(c.CertFile, 'CertFile'), key: readPem(c.KeyFile, 'KeyFile') } : {}) };
  return async (hostPort, timeoutMs) => {
    const r = await requestJson(`https://${hostPort}/master/state`, { timeoutMs, tls, headers: { 'user-agent': 'Mesos-DNS' } });
    if (r.status !== 200) throw new Error(`GET ${hostPort}/master/state: HTTP ${r.status}${r.status === 401 ? ` (${bodyText(r.body, 200)})` : ''}`);
    if (typeof r.body !== 'object' || r.body === null) throw new Error(`GET ${hostPort}/master/state: not JSON`);
    return r.body;
  };
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
  /** `zk://` URL to detect the leader through (default: the target's config `Zk`; '' = none). */
  zk?: string;
  /** Seconds without a ZooKeeper leader before logging `zk_detection_timeout` (default: config, 0 = never). */
  zkDetectionTimeoutSeconds?: number;
  /** Registry for the zk metrics (default: a private one; pass the daemon's to export them). */
  registry?: Registry;
  zkSessionTimeoutMs?: number;
}

export class Poller implements Component {
  readonly name = 'mesos-dns-poller';
  private timer: unknown;
  private leader = '';
  private stopped = true;
  private running?: Promise<boolean>;
  private again = false;
  private detector?: ZkDetector;
  private noLeaderTimer: unknown;
  private firstLeader?: () => void;
  readonly zkMetrics?: ZkMetrics;

  constructor(private readonly o: PollerOptions) {
    if (this.zkUrl()) this.zkMetrics = new ZkMetrics(o.registry ?? createRegistry());
  }

  private zkUrl(): string {
    return this.o.zk ?? this.o.target.config.Zk ?? '';
  }

  private clock(): Clock {
    return this.o.clock ?? systemClock;
  }

  /** Masters to try, in order: the ZooKeeper leader, the last state leader, the zk masters, `Masters`. */
  candidates(): string[] {
    const zk = this.detector?.current();
    return [...new Set([zk?.leader ?? '', this.leader, ...(zk?.masters ?? []), ...this.o.masters].filter(Boolean))];
  }

  /** One fetch from the leader (or any master); resolves false when records were kept. */
  async pollOnce(): Promise<boolean> {
    const fetchState = this.o.fetchState ?? httpFetchState;
    const ms = this.o.timeoutSeconds * 1000;
    const candidates = this.candidates();
    if (candidates.length === 0) {
      const why = this.detector ? 'ZooKeeper has reported no leader yet and no Masters are configured' : 'no masters given to fetch state from';
      this.o.log.error('no_masters', { why, kept: 'old records' });
      this.o.target.metrics.refreshFailures.inc({ reason: 'no_masters' });
      return false;
    }
    // As mesos-dns: once ZooKeeper lists masters, they replace `Masters` for master records.
    const zkMasters = this.detector?.current().masters ?? [];
    const masters = zkMasters.length ? zkMasters : this.o.masters;
    let lastErr: unknown;
    for (const m of candidates) {
      try {
        let state = await fetchState(m, ms);
        const leader = leaderHostPort(state);
        if (!leader) throw new Error(`state from ${m} does not contain leader information`);
        if (leader !== m) state = await fetchState(leader, ms);
        this.leader = leader;
        const ok = await this.o.target.setState(state, masters);
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
    const url = this.zkUrl();
    if (url) {
      const first = new Promise<void>((r) => (this.firstLeader = r));
      this.detector = new ZkDetector({
        url, log: this.o.log, metrics: this.zkMetrics!, sessionTimeoutMs: this.o.zkSessionTimeoutMs,
        onChange: (v) => this.onZkChange(v), onConnection: (up) => this.onZkConnection(up),
      });
      this.detector.start();
      this.armNoLeaderTimer();
      // As mesos-dns, wait for ZooKeeper's first leader before the first poll, but only up to
      // ZkDetectionTimeout (then Masters, if any, are polled; the daemon never exits for it).
      if (this.detectionTimeoutMs() > 0) {
        let waited: unknown;
        await Promise.race([first, new Promise<void>((r) => (waited = this.clock().setTimeout(r, this.detectionTimeoutMs())))]);
        this.clock().clearTimeout(waited);
      }
      this.firstLeader = undefined;
    }
    await this.tick();
  }

  private detectionTimeoutMs(): number {
    return (this.o.zkDetectionTimeoutSeconds ?? this.o.target.config.ZkDetectionTimeout ?? 30) * 1000;
  }

  private onZkChange(v: ZkView): void {
    if (v.leader) {
      this.clock().clearTimeout(this.noLeaderTimer);
      this.noLeaderTimer = undefined;
      this.firstLeader?.();
    } else this.armNoLeaderTimer();
    if (this.firstLeader === undefined) void this.tick();
  }

  private onZkConnection(up: boolean): void {
    if (!up) this.armNoLeaderTimer();
    else if (this.detector?.current().leader) {
      this.clock().clearTimeout(this.noLeaderTimer);
      this.noLeaderTimer = undefined;
    }
  }

  /** "No leader through ZooKeeper" for ZkDetectionTimeout: logged (mesos-dns exits here; we go on). */
  private armNoLeaderTimer(): void {
    const ms = this.detectionTimeoutMs();
    if (ms <= 0 || this.noLeaderTimer !== undefined || this.stopped) return;
    this.noLeaderTimer = this.clock().setTimeout(() => {
      this.noLeaderTimer = undefined;
      const d = this.detector;
      if (!d || this.stopped || (d.connected && d.current().leader)) return;
      this.zkMetrics?.noLeader.inc();
      this.o.log.error('zk_detection_timeout', {
        after_s: ms / 1000,
        why: d.connected ? 'ZooKeeper lists no usable json.info_ znode' : 'ZooKeeper unreachable',
        polling: this.candidates().length ? this.candidates() : 'nothing: keeping old records',
      });
      this.armNoLeaderTimer();
    }, ms);
  }

  /** Poll now (coalesced with a poll under way), then every RefreshSeconds. */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.clock().clearTimeout(this.timer);
    if (this.running) {
      this.again = true;
      return;
    }
    do {
      this.again = false;
      this.running = this.pollOnce().catch(() => false);
      await this.running;
      this.running = undefined;
    } while (this.again && !this.stopped);
    if (this.stopped) return;
    this.clock().clearTimeout(this.timer);
    this.timer = this.clock().setTimeout(() => void this.tick(), this.o.refreshSeconds * 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clock().clearTimeout(this.timer);
    this.clock().clearTimeout(this.noLeaderTimer);
    this.noLeaderTimer = undefined;
    this.firstLeader?.();
    await this.detector?.stop();
    await this.running;
  }
}
