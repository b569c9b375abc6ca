/** Prometheus metrics of the l4lb component, on the registry the daemon passes in. */
import { prom, type Registry } from '../common/metrics.js';

export interface L4lbMetrics {
  vips: prom.Gauge;
  backends: prom.Gauge<'state'>;
  syncSeconds: prom.Histogram<'kind'>;
  reconciledRules: prom.Counter;
  syncErrors: prom.Counter<'kind'>;
  driver: prom.Gauge<'driver'>;
  unreachable: prom.Counter<'backend'>;
  /** Read at scrape time from `openSource` (set by the agent plugin when the userspace driver runs). */
  userspaceOpen: prom.Gauge<'protocol'>;
  openSource?: () => { tcp: number; udp: number };
  socketErrors: prom.Counter<'op' | 'errno'>;
  /** nftables driver: 1 when bridged replies pass netfilter (br_netfilter on), 0 when not. */
  bridgeNetfilter: prom.Gauge;
}

const cache = new WeakMap<Registry, L4lbMetrics>();

export function l4lbMetrics(registry: Registry): L4lbMetrics {
  const have = cache.get(registry);
  if (have) return have;
  const registers = [registry];
  const m: L4lbMetrics = {
    vips: new prom.Gauge({ name: 'sextant_l4lb_vips', help: 'VIPs (VIP:port:protocol) programmed on this node', registers }),
    backends: new prom.Gauge({ name: 'sextant_l4lb_backends', help: 'Backends programmed, by state (active = weight > 0, draining = weight 0)', labelNames: ['state'], registers }),
    syncSeconds: new prom.Histogram({
      name: 'sextant_l4lb_sync_duration_seconds',
      help: 'Time to apply desired VIPs to the data plane (kind: apply on change, reconcile periodic)',
      labelNames: ['kind'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    reconciledRules: new prom.Counter({ name: 'sextant_l4lb_reconciled_rules_total', help: 'Kernel objects rewritten by periodic reconciles (drift repaired)', registers }),
    syncErrors: new prom.Counter({ name: 'sextant_l4lb_sync_errors_total', help: 'Failed applies and reconciles', labelNames: ['kind'], registers }),
    driver: new prom.Gauge({ name: 'sextant_l4lb_driver', help: 'The data-plane driver in use (1 for the chosen one)', labelNames: ['driver'], registers }),
    unreachable: new prom.Counter({ name: 'sextant_l4lb_unreachable_backends_total', help: 'Connections a backend refused or timed out (userspace driver)', labelNames: ['backend'], registers }),
    userspaceOpen: new prom.Gauge({
      name: 'sextant_l4lb_userspace_open',
      help: 'Connections (tcp) and sessions (udp) the userspace proxy relays now, all VIPs',
      labelNames: ['protocol'],
      registers,
      collect() {
        const open = m.openSource?.();
        if (open) for (const p of ['tcp', 'udp'] as const) this.set({ protocol: p }, open[p]);
      },
    }),
    socketErrors: new prom.Counter({
      name: 'sextant_l4lb_userspace_socket_errors_total',
      help: 'Sockets the userspace proxy could not get (op accept: a client; op connect: a backend socket), by errno; EMFILE: out of file descriptors',
      labelNames: ['op', 'errno'],
      registers,
    }),
    bridgeNetfilter: new prom.Gauge({
      name: 'sextant_l4lb_bridge_netfilter',
      help: 'nftables driver: 1 when net.bridge.bridge-nf-call-iptables is on here, 0 when off or br_netfilter is not loaded (VIP clients whose backend shares their bridge then fail)',
      registers,
    }),
  };
  cache.set(registry, m);
  return m;
}
