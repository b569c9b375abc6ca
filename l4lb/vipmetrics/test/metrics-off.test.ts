/**
 * Metrics off (`metrics: { enabled: false }`, env SEXTANT_L4LB_METRICS=0): the userspace proxy
 * counts nothing, `GET /net/v1/metrics` answers 404 saying so, no per-VIP series are registered.
 */
import t from 'tap';
import net from 'node:net';
import { createRegistry } from '../../../common/metrics.js';
import { Router, serve } from '../../../common/http.js';
import { createAgentControl, type Snapshot } from '../../../contracts/index.js';
import { agentHost, freePort, loopbackBlock } from '../../../test/lib/index.js';
import { l4lbAgentPlugin } from '../../plugin.js';
import type { L4lbReconciler } from '../../reconciler.js';
import { UserspaceDriver } from '../../userspace/driver.js';

t.test('metrics off', async (t) => {
  const lb = loopbackBlock();
  const registry = createRegistry();
  const control = createAgentControl();
  const routes: ((r: Router) => void)[] = [];
  const plugin = l4lbAgentPlugin({ driver: 'userspace', metrics: { enabled: false } });
  const c = plugin(agentHost({ agentId: 'a', ip: lb(1), workDir: '/nonexistent', masters: [], registry, routes: (f) => routes.push(f) }, 'l4lb', control));
  await c.start();
  t.teardown(() => c.stop());
  let r!: L4lbReconciler;
  control.onConsumer((x) => (r = x as L4lbReconciler));
  const router = new Router();
  routes.forEach((f) => f(router));
  const http = await serve(router, { host: lb(1), port: 0 });
  t.teardown(() => http.close());

  const [vport, bport] = [await freePort(lb(10)), await freePort(lb(20))];
  const srv = net.createServer((s) => s.end('hi\n'));
  await new Promise<void>((res) => srv.listen(bport, lb(20), res));
  t.teardown(() => srv.close());
  const vips = [{ key: `tcp/${lb(10)}:${vport}`, ip: lb(10), port: vport, protocol: 'tcp' as const, backends: [{ ip: lb(20), port: bport, weight: 1, task_id: 't', agent_id: 'a' }] }];
  await r.apply({ history: 'h', version: 1, overlay: {} as never, parts: { vips, zones: [], networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters: [] } } as Snapshot);
  const got = await new Promise<string>((res, rej) => {
    const s = net.connect(vport, lb(10));
    s.once('data', (d) => (s.destroy(), res(String(d)))).once('error', rej);
  });
  t.equal(got, 'hi\n', 'traffic flows');

  const res = await fetch(`http://${lb(1)}:${http.address().port}/net/v1/metrics`);
  t.equal(res.status, 404);
  t.match(((await res.json()) as { message: string }).message, /VIP metrics are off on this node/);
  t.notMatch(await registry.metrics(), /sextant_l4lb_vip_/, 'no per-VIP series');
  t.equal(await (r.driver as UserspaceDriver).netMetrics(), undefined, 'the driver keeps no counters');
});
