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
  constructor(
    readonly dns: MesosDns,
    private readonly m: MasterHandle,
    coalesceMs: number,
    clock: Clock,
    private readonly log: Logger,
  ) {
    this.c = new Coalescer(() => this.regenerate(), { intervalMs: coalesceMs, clock });
  }

  private async regenerate(): Promise<void> {
    try {
      await this.dns.setState(this.m.state());
    } catch (e) {
      this.log.error('regenerate_failed', { err: e });
    }
  }

  async start(): Promise<void> {
    await this.dns.setState(this.m.state());
    await this.dns.start();
    this.unsubscribe = this.m.onChange(() => this.c.trigger());
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.c.stop();
    await this.dns.stop();
  }
}

/** The master plugin, in the one plugin shape (contracts/plugin.ts); servers listen in `start()`. */
export function mesosDnsMasterPlugin(opts: MesosDnsPluginOptions = {}): MasterPlugin {
  return ({ handle: m, metrics, log: base }) => {
    const log = opts.log ?? base.child({ master: m.masterId });
    const config = pluginConfig(m, opts.config);
    const dns = new MesosDns({ config, registry: metrics, log });
    if (config.HttpOn) m.apis?.set('/mesos_dns', dns.apiRouter());
    return new MesosDnsInMaster(dns, m, opts.coalesceMs ?? 50, opts.clock ?? systemClock, log);
  };
}
