/**
 * Mesos-DNS inside a Sextant master: records come from the master's own state on every change
 * (at most one regeneration per `coalesceMs`), not from polling, so a task resolves well under a
 * second after TASK_RUNNING. Serves DNS on :61053 and HTTP on :8123 by default.
 */
import type { Component } from '../../common/daemon.js';
import { systemClock, type Clock } from '../../common/clock.js';
import { Coalescer } from '../../common/coalesce.js';
import type { Logger } from '../../common/log.js';
import type { MasterHandle, MasterPlugin } from '../../contracts/index.js';
import { parseConfig, type MesosDnsConfig } from './config.js';
import { MesosDns } from './mesosdns.js';
import { mesosDnsHealthCheck, type LoadState } from './health.js';

export interface MesosDnsPluginOptions {
  /** mesos-dns config keys to override (any case); Masters defaults to this master. */
  config?: Record<string, unknown>;
  coalesceMs?: number;
  clock?: Clock;
  log?: Logger;
}

export const PLUGIN_DEFAULTS = { Port: 61053, HttpPort: 8123, ExternalOn: false, RefreshSeconds: 60 } as const;

export function pluginConfig(m: Pick<MasterHandle, 'ip' | 'port'>, overrides: Record<string, unknown> = {}): MesosDnsConfig {
  const masterAddr = m.ip.includes(':') ? `[${m.ip}]:${m.port}` : `${m.ip}:${m.port}`;
  return parseConfig({ ...PLUGIN_DEFAULTS, Masters: [masterAddr], Listener: m.ip, HTTPListener: m.ip, ...overrides }).config;
}

class MesosDnsInMaster implements Component {
  readonly name = 'mesos-dns';
  private unsubscribe?: () => void;
  /** Regenerates on change, at most once per `coalesceMs` (leading edge, plus one trailing run). */
  private readonly c: Coalescer;
  /** What the `sextant-mesos-dns` health unit reads. */
  readonly load: LoadState;
  constructor(
    readonly dns: MesosDns,
    private readonly m: MasterHandle,
    coalesceMs: number,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.c = new Coalescer(() => this.regenerate(), { intervalMs: coalesceMs, clock });
    this.load = { refreshSeconds: dns.config.RefreshSeconds };
  }

  private async regenerate(): Promise<void> {
    try {
      await this.loadState();
    } catch (e) {
      this.load.lastError = (e as Error).message;
      this.log.error('regenerate_failed', { err: e });
    }
  }

  /** Generate records from the master state now; a change that comes in meanwhile stays pending. */
  private async loadState(): Promise<void> {
    const since = this.clock.now();
    if (await this.dns.setState(this.m.state())) {
      this.load.loadedAt = this.clock.now();
      this.load.records = this.dns.records()?.size();
      this.load.lastError = undefined;
      if (this.load.pendingSince !== undefined && this.load.pendingSince <= since) this.load.pendingSince = undefined;
    } else this.load.lastError = 'the master state was rejected as malformed (old records kept)';
  }

  async start(): Promise<void> {
    await this.loadState();
    try {
      await this.dns.start();
    } catch (e) {
      this.load.startError = (e as Error).message;
      throw e;
    }
    this.load.serving = true;
    this.unsubscribe = this.m.onChange(() => {
      this.load.pendingSince ??= this.clock.now();
      this.c.trigger();
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.c.stop();
    await this.dns.stop();
  }
}

/** The master plugin, in the one plugin shape (contracts/plugin.ts); servers listen in `start()`. */
export function mesosDnsMasterPlugin(opts: MesosDnsPluginOptions = {}): MasterPlugin {
  return ({ handle: m, metrics, log: base, health }) => {
    const log = opts.log ?? base.child({ master: m.masterId });
    const config = pluginConfig(m, opts.config);
    const dns = new MesosDns({ config, registry: metrics, log, ...(m.tls ? { httpTls: { material: m.tls } } : {}) });
    if (config.HttpOn) m.apis?.set('/mesos_dns', dns.apiRouter());
    const clock = opts.clock ?? systemClock;
    const c = new MesosDnsInMaster(dns, m, opts.coalesceMs ?? 50, clock, log);
    health?.add(mesosDnsHealthCheck(() => c.load, clock));
    return c;
  };
}
