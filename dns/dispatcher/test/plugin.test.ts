/** The agent plugin: starts with the agent's masters as Mesos-DNS resolvers; a failure never stops the agent. */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopbackBlock } from '../../../test/lib/index.js';
import { createRegistry } from '../../../common/metrics.js';
import { createAgentControl, type AgentHandle, type SnapshotConsumer } from '../../../contracts/index.js';
import { agentHost } from '../../../test/lib/index.js';
import { dispatcherAgentPlugin, type Dispatcher } from '../index.js';
import { addresses, query, udpAsk } from './helpers.js';

function handle(t: { teardown(fn: () => unknown): void }, ip: (n: number) => string): AgentHandle {
  const workDir = mkdtempSync(join(tmpdir(), 'sx-agent-'));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  return { agentId: 'a1', ip: ip(1), workDir, masters: [`${ip(2)}:5050`, `${ip(3)}:5050`], registry: createRegistry(), routes: () => {} };
}

t.test('starts on the agent IP with mesos resolvers from the masters', async (t) => {
  const ip = loopbackBlock();
  const a = handle(t, ip);
  const control = createAgentControl();
  const consumers: SnapshotConsumer[] = [];
  control.onConsumer((x) => consumers.push(x));
  const c = dispatcherAgentPlugin({ config: { udp_port: 0, tcp_port: 0 } })(agentHost(a, 'dispatcher', control));
  t.equal(c.dispatcher, undefined, 'building starts nothing');
  await c.start();
  t.teardown(() => c.stop());
  const started: Dispatcher | undefined = c.dispatcher;
  t.ok(c && started, 'started');
  t.same(consumers.map((x) => x.name), ['dispatcher'], 'its snapshot consumer handed to the control plane once started');
  const r = started!.routes.route('app.marathon.mesos');
  t.same(r.kind === 'forward' && r.resolvers.map((e) => e.label), [`${ip(2)}:61053`, `${ip(3)}:61053`]);
  const port = started!.addresses().find((x) => x.transport === 'udp')!.port;
  t.same(addresses(await udpAsk(ip(1), port, query('ready.spartan', 1))), [ip(1)]);
  t.ok((await a.registry.metrics()).includes('sextant_dispatcher_requests_total'), 'metrics on the agent registry');
});

t.test('a dispatcher that cannot start is skipped, not fatal', async (t) => {
  const ip = loopbackBlock();
  const a = handle(t, ip);
  writeFileSync(join(a.workDir, 'dispatcher.json'), JSON.stringify({ handler_limit: 'lots' }));
  const control = createAgentControl();
  const consumers: SnapshotConsumer[] = [];
  control.onConsumer((x) => consumers.push(x));
  const c = dispatcherAgentPlugin()(agentHost(a, 'dispatcher', control));
  await c.start(); // logs dispatcher_not_started and resolves: the agent goes on
  t.equal(c.dispatcher, undefined);
  t.same(consumers, [], 'nothing registered');
  await c.stop();
});
