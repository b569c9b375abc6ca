/**
 * The l4lb plugins, in the one plugin shape (contracts/plugin.ts).
 *
 * Agent: `l4lbAgentPlugin(opts)(host)` builds nothing that touches the kernel. `start()` probes the
 * driver (ipvs, `nft -c`, userspace), mounts `GET /v1/vips` and `GET /net/v1/metrics` (per VIP and
 * backend counters, contracts/netmetrics.ts) on the agent API, hands the reconciler
 * (a SnapshotConsumer for part `vips`) to `host.control` and starts it. A driver that cannot be
 * probed fails `start()`, so nothing is registered.
 *
 * Master: `l4lbMasterPlugin(opts)(host)` adds the `vips` part source to `host.control` and mounts
 * `GET /v1/l4lb/vips`; the source reads the store when the control plane asks for entries.
 */
import type { Clock } from '../common/clock.js';
import type { Component } from '../common/daemon.js';
import type { AgentPlugin, MasterPlugin } from '../contracts/index.js';
import { l4lbHealthCheck } from './health.js';
import { l4lbMetrics } from './metrics.js';
import { probeDriver, type DriverChoice, type ProbeOptions } from './probe.js';
import { L4lbReconciler, vipsApiView } from './reconciler.js';
import { vipSource, type VipSourceOptions } from './source.js';
import { UserspaceDriver } from './userspace/driver.js';
import { systemClock } from '../common/clock.js';
import { NotFoundError } from '../common/errors.js';
import { nodeNetMetrics } from './vipmetrics/node.js';
import { registerVipSeries } from './vipmetrics/prometheus.js';

export interface L4lbAgentPluginOptions extends ProbeOptions {
  /** `--l4lb-driver` (default auto). */
  driver?: DriverChoice;
  reconcileMs?: number;
  clock?: Clock;
  /**
   * Per VIP and backend metrics (issue #28; env SEXTANT_L4LB_METRICS=0 turns them off): `enabled`
   * (default true) and `maxSeries`, the cap on (vip, backend) label pairs of the Prometheus series
   * (default 1000; past it `backend="other"`).
   */
  metrics?: { enabled?: boolean; maxSeries?: number };
}

export function l4lbAgentPlugin(opts: L4lbAgentPluginOptions = {}): AgentPlugin {
  return ({ handle: agent, control, metrics: registry, log, health }) => {
    const metrics = l4lbMetrics(registry);
    let reconciler: L4lbReconciler | undefined;
    let startError: string | undefined;
    health?.add(l4lbHealthCheck(() => ({ reconciler, startError })));
    const component: Component = {
      name: 'l4lb',
      async start() {
        try {
          await startL4lb();
        } catch (e) {
          startError = (e as Error).message;
          throw e;
        }
      },
      async stop() {
        await reconciler?.stop();
      },
    };
    const startL4lb = async () => {
      const on = opts.metrics?.enabled !== false;
      const clock = opts.clock ?? systemClock;
      const driver = await probeDriver(opts.driver ?? 'auto', {
        ...opts,
        log: opts.log ?? log,
        // The agent's address: VIP routes prefer it as source, and the node's own flows skip MASQUERADE.
        ipvs: { nodeIp: agent.ip, metrics: on, ...opts.ipvs },
        nftables: { metrics: on, ...opts.nftables, onBridgeNetfilter: (state) => metrics.bridgeNetfilter.set(state === 'on' ? 1 : 0) },
        userspace: {
          metrics: on,
          clock,
          ...opts.userspace,
          onUnreachable: (b) => metrics.unreachable.inc({ backend: b }),
          onSocketError: (op, e) => metrics.socketErrors.inc({ op, errno: e }),
        },
      });
      if (driver instanceof UserspaceDriver) metrics.openSource = () => driver.openTotals();
      const r = new L4lbReconciler({ driver, registry, clock: opts.clock, reconcileMs: opts.reconcileMs, log: opts.log ?? log });
      reconciler = r;
      const netMetrics = () => nodeNetMetrics(agent.ip, driver, r.current(), clock.now());
      agent.routes((router) => {
        router.get('/v1/vips', () => ({ json: vipsApiView(r.current()) }));
        router.get('/net/v1/metrics', async () => {
          const m = await netMetrics();
          if (!m) throw new NotFoundError(on ? `the ${driver.name} driver gives no VIP metrics` : 'VIP metrics are off on this node (SEXTANT_L4LB_METRICS=0)');
          return { json: m };
        });
      });
      // The series need the driver's counters only: not the node's view with a name per VIP (a
      // 10,000-entry map and a copy of every VIP entry per scrape, issue #26).
      // In layout form where the driver reads so (nftables): no object per programmed backend per scrape.
      if (on) registerVipSeries(registry, async () => (driver.netCounts ? driver.netCounts() : driver.netMetrics?.()), opts.metrics?.maxSeries ?? 1000);
      control.addConsumer(r);
      await r.start();
    };
    return component;
  };
}

/** `drain`: the composition root's VipDrainRelay, which the network metrics aggregator fills (netmetrics/). */
export type L4lbMasterPluginOptions = Omit<VipSourceOptions, 'log'>;

export function l4lbMasterPlugin(opts: L4lbMasterPluginOptions = {}): MasterPlugin {
  return ({ handle, control, log }) => {
    control.addSource(vipSource(handle, { ...opts, log: log.child({ role: 'vip-source' }) }));
    // Nothing to start: the source does its I/O (the store) when the control plane asks for entries.
    return { name: 'l4lb-vips', start: async () => {}, stop: async () => {} };
  };
}
