/**
 * The aggregator in the one plugin shape (contracts/plugin.ts), on the master. Construction builds
 * objects and mounts the routes; `start` begins polling the active agents of `/master/state` and
 * puts the drain policy into the relay the VIP source reads (l4lb), `stop` takes it out again.
 */
import type { Component } from '../common/daemon.js';
import type { MasterPlugin, VipDrainRelay } from '../contracts/index.js';
import { fetchJson, mapLimit, targetsFromState, tlsJsonGetter } from '../diag/index.js';
import { systemClock, type Clock } from '../common/clock.js';
import { NetMetricsAggregator, type AggregatorOptions, type PollTarget } from './aggregator.js';
import { netmetricsMetrics } from './metrics.js';
import { mountRoutes } from './routes.js';

export interface NetmetricsPluginOptions extends Partial<Pick<AggregatorOptions, 'intervalMs' | 'timeoutMs' | 'concurrency' | 'threshold' | 'minConnections' | 'recoverBelow' | 'holdMs' | 'drain' | 'minute' | 'hour' | 'maxSeries' | 'get'>> {
  /** The relay the l4lb VIP source reads (cli/plugins.ts makes one per master process). */
  relay?: VipDrainRelay;
  clock?: Clock;
}

/** The agents to poll: the active ones of `/master/state`, at the address of their pid. */
export function activeAgents(state: Record<string, unknown>, https = false): PollTarget[] {
  const active = new Set(((state.slaves as { id?: unknown; active?: unknown }[] | undefined) ?? []).filter((s) => s.active !== false).map((s) => String(s.id ?? '')));
  return targetsFromState(state, { ip: '', hostname: '', masterId: '' }, https)
    .filter((t) => t.role === 'agent' && t.url !== undefined && active.has(t.mesosId))
    .map((t) => ({ ip: t.ip, url: t.url! }));
}

export function netmetricsMasterPlugin(opts: NetmetricsPluginOptions = {}): MasterPlugin {
  return ({ handle, metrics: registry, log }) => {
    const clock = opts.clock ?? systemClock;
    let aggregator: NetMetricsAggregator | undefined;
    const m = netmetricsMetrics(registry, () => aggregator);
    const a = new NetMetricsAggregator({
      ...opts,
      targets: () => activeAgents(handle.state(), handle.tls !== undefined),
      get: opts.get ?? (handle.tls ? tlsJsonGetter(handle.tls) : fetchJson),
      mapLimit,
      clock,
      log,
      onPoll: (ms, failed) => m.polled(ms, failed),
    });
    aggregator = a;
    handle.routes((r) => mountRoutes(r, a, clock));
    const component: Component = {
      name: 'netmetrics',
      async start() {
        opts.relay?.set(a.drain);
        a.start();
        log.info('netmetrics_started', { interval_ms: a.intervalMs, threshold: a.judge.threshold, min_connections: a.judge.minConnections, drain: a.drain.enabled });
      },
      async stop() {
        opts.relay?.set(undefined);
        await a.stop();
      },
    };
    return component;
  };
}
