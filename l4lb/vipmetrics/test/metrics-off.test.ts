/**
 * Metrics off (`metrics: { enabled: false }`, env SEXTANT_L4LB_METRICS=0): the userspace proxy
 * counts nothing, `GET /net/v1/metrics` answers 404 saying so, no per-VIP series are registered.
 */
import t from 'tap';
import net from 'node:net';
import { freePort, loopbackBlock } from '../../../test/lib/index.js';
import { UserspaceDriver } from '../../userspace/driver.js';
import { metricsAgent } from './metrics-agent.js';

t.test('metrics off', async (t) => {
  const lb = loopbackBlock();
  const agent = await metricsAgent(t, { plugin: { driver: 'userspace', metrics: { enabled: false } }, node: lb(1), host: lb(1) });
  const [vport, bport] = [await freePort(lb(10)), await freePort(lb(20))];
  const srv = net.createServer((s) => s.end('hi\n'));
  await new Promise<void>((res) => srv.listen(bport, lb(20), res));
  t.teardown(() => srv.close());
  await agent.apply([{ key: `tcp/${lb(10)}:${vport}`, ip: lb(10), port: vport, protocol: 'tcp', backends: [{ ip: lb(20), port: bport, weight: 1, task_id: 't', agent_id: 'a' }] }]);
  const got = await new Promise<string>((res, rej) => {
    const s = net.connect(vport, lb(10));
    s.once('data', (d) => (s.destroy(), res(String(d)))).once('error', rej);
  });
  t.equal(got, 'hi\n', 'traffic flows');

  const res = await agent.fetchMetrics();
  t.equal(res.status, 404);
  t.match(((await res.json()) as { message: string }).message, /VIP metrics are off on this node/);
  t.notMatch(await agent.registry.metrics(), /sextant_l4lb_vip_/, 'no per-VIP series');
  t.equal(await (agent.reconciler.driver as UserspaceDriver).netMetrics(), undefined, 'the driver keeps no counters');
});
