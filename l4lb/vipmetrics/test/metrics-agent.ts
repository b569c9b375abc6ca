/**
 * The VIP-metrics tests' agent: the l4lb agent plugin started with the given options, its routes
 * served over HTTP, and helpers to program VIPs (a control-plane snapshot to the reconciler) and to
 * read `GET /net/v1/metrics`. Everything is stopped when the test ends.
 */
import type { Test } from 'tap';
import { createRegistry, type Registry } from '../../../common/metrics.js';
import { Router, serve } from '../../../common/http.js';
import { createAgentControl, type NodeNetMetrics, type Snapshot, type Vip } from '../../../contracts/index.js';
import { agentHost } from '../../../test/lib/index.js';
import { l4lbAgentPlugin, type L4lbAgentPluginOptions } from '../../plugin.js';
import type { L4lbReconciler } from '../../reconciler.js';

export interface MetricsAgent {
  registry: Registry;
  reconciler: L4lbReconciler;
  /** Program exactly these VIPs (a new control-plane version). */
  apply(vips: Vip[]): Promise<void>;
  /** `GET /net/v1/metrics` as it answered. */
  fetchMetrics(): Promise<Response>;
  /** `GET /net/v1/metrics`, which must answer 200. */
  metrics(): Promise<NodeNetMetrics>;
}

let version = 0;

/** A snapshot whose only part with content is `vips`. */
export const vipsView = (vips: Vip[]): Snapshot =>
  ({ history: 'h', version: ++version, overlay: {} as never, parts: { vips, zones: [], networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters: [] } }) as Snapshot;

/** The plugin on node `node` (its IP), the API on `host` (an address of this namespace). */
export async function metricsAgent(t: Test, opts: { plugin: L4lbAgentPluginOptions; node: string; host: string }): Promise<MetricsAgent> {
  const registry = createRegistry();
  const control = createAgentControl();
  const routes: ((r: Router) => void)[] = [];
  let reconciler: L4lbReconciler | undefined;
  control.onConsumer((x) => (reconciler = x as L4lbReconciler));
  const c = l4lbAgentPlugin(opts.plugin)(agentHost({ agentId: 'a', ip: opts.node, workDir: '/nonexistent', masters: [], registry, routes: (f) => routes.push(f) }, 'l4lb', control));
  await c.start();
  t.teardown(() => c.stop());
  if (!reconciler) throw new Error('the l4lb plugin added no reconciler to the agent control');
  const router = new Router();
  routes.forEach((f) => f(router));
  const http = await serve(router, { host: opts.host, port: 0 });
  t.teardown(() => http.close());
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${http.address().port}/net/v1/metrics`;
  const r = reconciler;
  return {
    registry,
    reconciler: r,
    apply: async (vips) => void (await r.apply(vipsView(vips))),
    fetchMetrics: () => fetch(url),
    async metrics() {
      const res = await fetch(url);
      if (res.status !== 200) throw new Error(`GET /net/v1/metrics answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as NodeNetMetrics;
    },
  };
}

/** A Prometheus sample's value, `NaN` when the series is absent. */
export function sample(prom: string, name: string, vip: string, backend: string): number {
  const esc = (s: string) => s.replace(/[[\]]/g, '\\$&');
  return Number(new RegExp(`${name}\\{vip="${esc(vip)}",backend="${esc(backend)}"\\} (\\d+)`).exec(prom)?.[1]);
}
