/**
 * The agent plugin: probes the driver, mounts `GET /v1/vips` on the agent API and hands the
 * reconciler (a SnapshotConsumer for part `vips`) to the agent's control-plane client.
 */
import type { AgentPlugin } from '../cli/plugins.js';
import type { Clock } from '../common/clock.js';
import type { SnapshotConsumer } from '../control/types.js';
import { l4lbMetrics } from './metrics.js';
import { probeDriver, type DriverChoice, type ProbeOptions } from './probe.js';
import { L4lbReconciler, vipsApiView } from './reconciler.js';
import { UserspaceDriver } from './userspace/driver.js';

export interface L4lbAgentPluginOptions extends ProbeOptions {
  /** `--l4lb-driver` (default auto). */
  driver?: DriverChoice;
  reconcileMs?: number;
  clock?: Clock;
  /** Registers the consumer with the agent's control-plane watch. */
  register?: (consumer: SnapshotConsumer) => void;
}

export function l4lbAgentPlugin(opts: L4lbAgentPluginOptions = {}): AgentPlugin {
  return async (agent) => {
    const metrics = l4lbMetrics(agent.registry);
    const driver = await probeDriver(opts.driver ?? 'auto', {
      ...opts,
      // The agent's address: VIP routes prefer it as source, and the node's own flows skip MASQUERADE.
      ipvs: { nodeIp: agent.ip, ...opts.ipvs },
      nftables: { ...opts.nftables, onBridgeNetfilter: (state) => metrics.bridgeNetfilter.set(state === 'on' ? 1 : 0) },
      userspace: { ...opts.userspace, onUnreachable: (b) => metrics.unreachable.inc({ backend: b }), onSocketError: (op, e) => metrics.socketErrors.inc({ op, errno: e }) },
    });
    if (driver instanceof UserspaceDriver) metrics.openSource = () => driver.openTotals();
    const reconciler = new L4lbReconciler({ driver, registry: agent.registry, clock: opts.clock, reconcileMs: opts.reconcileMs });
    agent.routes((r) => r.get('/v1/vips', () => ({ json: vipsApiView(reconciler.current()) })));
    opts.register?.(reconciler);
    return reconciler;
  };
}
