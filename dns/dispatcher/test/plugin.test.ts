/** The agent plugin: starts with the agent's masters as Mesos-DNS resolvers; a failure never stops the agent. */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopbackBlock } from '../../../test/lib/index.js';
import { createRegistry } from '../../../common/metrics.js';
import { createAgentControl, type AgentHandle, type MasterEntry, type Snapshot, type SnapshotConsumer } from '../../../contracts/index.js';
import { agentHost } from '../../../test/lib/index.js';
import { dispatcherAgentPlugin, type Dispatcher } from '../index.js';
import { addresses, answer, query, rcode, scripted, udpAsk } from './helpers.js';

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

/**
 * Issue 25: in `sextant up --masters 3`, Mesos-DNS answers on the leading master only, and the
 * control plane's `masters` part names the master the agent's stream is on (and the leader that
 * master knows). When leadership moves elsewhere, that list can still name only a master whose
 * Mesos-DNS is down: every `.mesos` lookup then hangs on serve-stale, and a name with nothing kept
 * got SERVFAIL. The agent follows the elected master (ZooKeeper): its Mesos-DNS is asked too.
 */
t.test('the elected master the agent follows is asked for .mesos besides the listed ones', async (t) => {
  const ip = loopbackBlock();
  const listed = ip(2); // named by the control plane; its Mesos-DNS port is closed (not leading)
  const leader = ip(3);
  const up = await scripted(t, leader, (q) => answer(q, ['10.9.9.9']));
  const a = handle(t, ip);
  const listeners: ((m: string[]) => void)[] = [];
  const followed: AgentHandle = { ...a, masters: [`${listed}:5050`], onMastersChange: (fn) => (listeners.push(fn), () => void listeners.splice(listeners.indexOf(fn), 1)) };
  const control = createAgentControl();
  const consumers: SnapshotConsumer[] = [];
  control.onConsumer((x) => consumers.push(x));
  const c = dispatcherAgentPlugin({ config: { udp_port: 0, tcp_port: 0, timeout: 1000 } })(agentHost(followed, 'dispatcher', control));
  await c.start();
  t.teardown(() => c.stop());
  const d = c.dispatcher!;
  const port = d.addresses().find((x) => x.transport === 'udp')!.port;
  const entry = (host: string, leading: boolean): MasterEntry => ({ key: host, id: host, ip: host, port: 5050, control_port: 5060, dns_port: up.port, leader: leading });
  await consumers[0]!.apply({ history: 'h', version: 1, overlay: {} as Snapshot['overlay'], parts: { masters: [entry(listed, true)] } as Snapshot['parts'] });
  const labels = () => {
    const r = d.routes.route('hello.marathon.mesos');
    return r.kind === 'forward' ? r.resolvers.map((e) => e.label) : [];
  };
  t.same(labels(), [`${listed}:${up.port}`], 'the listed master (also the one followed so far)');
  t.equal(rcode(await udpAsk(ip(1), port, query('hello.marathon.mesos', 1))), 2, 'its Mesos-DNS is down and nothing is kept: SERVFAIL (what the fault suite saw)');

  for (const fn of listeners) fn([`${leader}:5050`]);
  t.same(labels(), [`${leader}:${up.port}`, `${listed}:${up.port}`], 'the elected master added first, on the Mesos-DNS port of the list');
  const r = await udpAsk(ip(1), port, query('hello.marathon.mesos', 1));
  t.equal(rcode(r), 0, 'answered by the elected master');
  t.same(addresses(r), ['10.9.9.9']);

  await consumers[0]!.apply({ history: 'h', version: 2, overlay: {} as Snapshot['overlay'], parts: { masters: [entry(leader, true)] } as Snapshot['parts'] });
  t.same(labels(), [`${leader}:${up.port}`], 'a list naming the elected master: no duplicate');
});
