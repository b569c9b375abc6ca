/**
 * The order in which an agent applies a snapshot to its consumers is data (CONSUMER_ORDER in
 * contracts/): l4lb (backends) before overlay (routes) before the dispatcher (names), so a name
 * never resolves before traffic to it works; others (cni) after. The consumers are added in the
 * reverse order on purpose: with the sort removed, or the order list reversed or emptied, these
 * tests fail. The expected orders are written out, not read from CONSUMER_ORDER.
 */
import t from 'tap';
import { createRegistry } from '../../common/metrics.js';
import { createAgentControl, type AgentHandle } from '../../contracts/index.js';
import { agentHost } from '../../test/lib/index.js';
import { controlAgentPlugin } from '../index.js';
import type { ControlClient } from '../client.js';
import { clientReaches, RecordingConsumer, SettableSource, startServer, vip } from './helpers.js';

const handle = (): AgentHandle => ({ agentId: 'a1', ip: '127.0.0.1', workDir: '/nonexistent', masters: [], registry: createRegistry(), routes: () => {} });

async function setUp(t: { teardown(fn: () => unknown): void }) {
  const vips = new SettableSource('vips', [vip('web', '11.0.0.1', [['10.0.0.1', 31000]])]);
  const zones = new SettableSource('zones', [{ key: 'web/A/11.0.0.1', name: 'web', type: 'A', data: '11.0.0.1' }]);
  const networks = new SettableSource('networks', [{ key: 'dcos', name: 'dcos', subnet: '9.0.0.0/8', prefix: 24, mtu: 1420 }]);
  const server = await startServer(t, { sources: [vips, zones, networks] });
  const control = createAgentControl();
  const client = controlAgentPlugin({ masters: [`127.0.0.1:${server.port}`] })(agentHost(handle(), 'control', control)) as ControlClient;
  t.teardown(() => client.stop());
  return { vips, control, client };
}

t.test('consumers added in reverse apply l4lb, overlay, dispatcher, then the rest', async (t) => {
  const { vips, control, client } = await setUp(t);
  const order: string[] = [];
  for (const [name, parts] of [
    ['cni', ['networks']],
    ['dispatcher', ['zones']],
    ['overlay', ['networks']],
    ['l4lb', ['vips']],
  ] as const)
    control.addConsumer(new RecordingConsumer(name, [...parts], order));
  await client.start();
  await clientReaches(client, (s) => s.applied > 0, 'first version');
  t.same(order, ['l4lb', 'overlay', 'dispatcher', 'cni'], 'first snapshot');

  order.length = 0;
  vips.set([vip('web', '11.0.0.1', [['10.0.0.2', 31000]])]);
  await clientReaches(client, (s) => s.applied > 1, 'second version');
  t.same(order, ['l4lb', 'overlay', 'dispatcher', 'cni'], 'every later version too');
});

t.test('a consumer added after the client started takes its place in the order', async (t) => {
  const { control, client } = await setUp(t);
  const order: string[] = [];
  const dispatcher = new RecordingConsumer('dispatcher', ['zones'], order);
  control.addConsumer(dispatcher);
  await client.start();
  await clientReaches(client, (s) => s.applied > 0, 'first version');
  order.length = 0;
  const l4lb = new RecordingConsumer('l4lb', ['vips'], order);
  control.addConsumer(l4lb);
  await clientReaches(client, () => l4lb.views.length > 0, 'l4lb view');
  t.same(order.slice(0, 2), ['l4lb', 'dispatcher'], 'VIPs before names, though the dispatcher came first');
});
