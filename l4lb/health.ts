/**
 * The `sextant-l4lb` unit: the driver's kernel state (a fresh dump) equals the services of the
 * control-plane version last applied, i.e. a reconcile now would change nothing. The output names
 * the services missing, extra or with other backends (someone flushed the table, deleted an IPVS
 * service); the periodic reconcile repairs them.
 */
import { UNITS, type HealthCheck } from '../contracts/index.js';
import type { Service } from './driver.js';
import type { L4lbReconciler } from './reconciler.js';
import { normalize, sameBackends } from './services.js';

export interface Drift {
  missing: string[];
  extra: string[];
  changed: string[];
}

export function driftOf(want: Service[], have: Service[]): Drift {
  const h = new Map(normalize(have).map((s) => [s.key, s]));
  const w = new Map(normalize(want).map((s) => [s.key, s]));
  const d: Drift = { missing: [], extra: [], changed: [] };
  for (const [k, s] of w) {
    const o = h.get(k);
    if (!o) d.missing.push(k);
    else if (!sameBackends(o.backends, s.backends)) d.changed.push(k);
  }
  for (const k of h.keys()) if (!w.has(k)) d.extra.push(k);
  return d;
}

const list = (what: string, keys: string[]) => (keys.length ? [`${keys.length} ${what} (${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''})`] : []);

export function l4lbHealthCheck(state: () => { reconciler?: L4lbReconciler; startError?: string }): HealthCheck {
  return {
    id: UNITS.l4lb,
    name: 'L4 load balancer',
    help: 'VIPs in the kernel (Minuteman/dcos-l4lb): the driver\'s kernel state equals the control plane\'s last applied version. Unhealthy: see the agent log (l4lb_*); `sextant diag bundle` has the nft and ipvsadm dumps.',
    async check() {
      const { reconciler: r, startError } = state();
      if (!r) return { healthy: false, output: startError ? `not running: ${startError}` : 'not started' };
      if (r.appliedVersion === undefined) return { healthy: false, output: `${r.driver.name} driver: no control-plane version applied yet` };
      const want = r.desiredServices();
      const d = driftOf(want, await r.driver.dump());
      const problems = [...list('service(s) missing from the kernel', d.missing), ...list('unknown service(s) in the kernel', d.extra), ...list('service(s) with other backends', d.changed)];
      if (r.driver.drift) problems.push(...(await r.driver.drift(want)));
      const head = `${r.driver.name} driver, version ${r.appliedVersion}`;
      if (problems.length) return { healthy: false, output: `${head}: kernel differs from the desired state: ${problems.join('; ')}` };
      return { healthy: true, output: `${head}: kernel holds the ${want.length} desired service(s)` };
    },
  };
}
