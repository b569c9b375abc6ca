/**
 * The `sextant-overlay` unit: the VXLAN device is up with its address, and the routes, neighbours
 * and fdb entries toward the other agents are in the kernel, i.e. the diff of a fresh kernel dump
 * against the desired state is empty. The output lists what a sync would change (`vtep1024`
 * missing, a route gone); the periodic reconcile repairs it.
 */
import { UNITS, type HealthCheck } from '../contracts/index.js';
import type { OverlayAgentComponent } from './agent.js';
import { renderBatch } from './batch.js';

export function overlayHealthCheck(c: OverlayAgentComponent): HealthCheck {
  return {
    id: UNITS.overlay,
    name: 'Overlay (VXLAN)',
    help: 'Virtual networks over VXLAN (Navstar/dcos-overlay): the VTEP is up with its address, routes, neighbours and fdb entries. Unhealthy: see the agent log (overlay_*) and GET /v1/overlay on the agent.',
    async check() {
      const want = c.desired();
      if (!want) return { healthy: false, output: c.lastError ? `nothing programmed: ${c.lastError}` : 'no overlay state from the control plane yet' };
      const ops = (await c.pendingOps()) ?? [];
      const v = want.vtep;
      const what = `${v.name} ${v.addr} (vni ${v.vni}), ${want.routes.length} route(s), ${want.fdbs.length} fdb entr${want.fdbs.length === 1 ? 'y' : 'ies'}, ${want.bridges.length} bridge(s)`;
      const missing = c.missing.length ? `; no subnet on this agent for ${c.missing.map((m) => `${m.network} (${m.reason})`).join(', ')}` : '';
      if (ops.length) {
        const plan = renderBatch(ops);
        const lines = [...plan.ip, ...plan.bridge];
        const vtepGone = ops.some((o) => o.op === 'vxlan.add');
        return { healthy: false, output: `${vtepGone ? `${v.name} is missing; ` : ''}kernel differs from the desired ${what}: ${ops.length} change(s) pending: ${lines.slice(0, 5).join('; ')}${lines.length > 5 ? '; ...' : ''}${missing}` };
      }
      return { healthy: missing === '', output: `${what} in place${missing}` };
    },
  };
}
