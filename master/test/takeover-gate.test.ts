/**
 * A new leader (master/ha.ts) serves its agents before its other services: with `servicesPending`
 * it re-registers known agents from their registered address and refuses (503, nothing stored) a
 * new agent and an app that needs the services' address book (container network, literal VIP),
 * until `servicesStarted()`. `agents.reregistered(ms)` resolves once every agent active in the
 * loaded state is back, or after `ms`. An agent whose re-registration is being written is not
 * timed out meanwhile.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock, requestJson } from '../../common/index.js';
import type { KvStore } from '../../contracts/index.js';
import { loopbackBlock } from '../../test/lib/index.js';
import { Master } from '../master.js';
import { FileKvStore } from '../store/file.js';
import { FakeAgent } from '../../test/lib/fake-agent.js';

process.env.SEXTANT_LOG_LEVEL ??= 'warn';

/** A file store whose agent-record writes can be held (a re-registration "in flight"). */
class HeldStore implements KvStore {
  hold?: Promise<void>;
  /** Called when an agent-record write is held. */
  onHeld?: () => void;
  constructor(private readonly inner: FileKvStore) {}
  get<T>(k: string) {
    return this.inner.get<T>(k);
  }
  list<T>(p: string) {
    return this.inner.list<T>(p);
  }
  delete(k: string) {
    return this.inner.delete(k);
  }
  async put(k: string, v: unknown) {
    if (k.startsWith('master/agents/') && this.hold) {
      this.onHeld?.();
      await this.hold;
    }
    return this.inner.put(k, v);
  }
}

async function setup(t: { teardown(fn: () => unknown): void }) {
  const ip = loopbackBlock();
  const workDir = mkdtempSync(join(tmpdir(), 'sx-takeover-'));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  const clock = new FakeClock(Date.now());
  const first = new Master({ ip: ip(1), port: 0, marathonPort: 0, workDir, clock });
  await first.start();
  const agent = new FakeAgent({ ip: ip(2), master: `${ip(1)}:${first.port}`, hostname: 'agent2.test' });
  await agent.start();
  t.teardown(() => agent.stop());
  await agent.register();
  await first.agents.whenVerified(agent.id!);
  await first.stop();
  // The next leader, on the same state.
  const file = new FileKvStore(workDir);
  await file.open();
  const store = new HeldStore(file);
  const m = new Master({ ip: ip(1), port: 0, marathonPort: 0, workDir, clock, store, agentTimeoutMs: 15_000, servicesPending: true });
  await m.start();
  t.teardown(() => m.stop());
  agent.o.master = `${ip(1)}:${m.port}`;
  const newcomer = new FakeAgent({ ip: ip(3), master: `${ip(1)}:${m.port}`, hostname: 'agent3.test' });
  await newcomer.start();
  t.teardown(() => newcomer.stop());
  return { m, agent, newcomer, clock, store, marathon: `http://${ip(1)}:${m.marathonPort}` };
}

const settledSoon = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
};

t.test('until its services started, a new leader takes back known agents only, and apps without networks', async (t) => {
  const { m, agent, newcomer, marathon } = await setup(t);
  const back = m.agents.reregistered(60_000);
  t.equal(m.agents.notReregistered, 1, 'one agent to wait for');
  t.notOk(await settledSoon(back), 'not resolved before the agent is back');

  const refused = await newcomer.register().then(() => undefined, (e: Error) => e.message);
  t.match(refused, /HTTP 503 .*just elected/, 'a new agent: 503 naming why');
  t.same(((await requestJson(`http://${m.ip}:${m.port}/master/state`)).body as { slaves: { id: string }[] }).slaves.map((s) => s.id), [agent.id], 'nothing stored for it');

  const net = await requestJson(`${marathon}/v2/apps`, { body: { id: '/onnet', cmd: 'sleep 1', instances: 0, networks: [{ mode: 'container', name: 'dcos' }] } });
  t.equal(net.status, 503, 'an app on a container network: 503');
  t.match((net.body as { message: string }).message, /just elected/);
  const again = await fetch(`${marathon}/v2/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: '/onnet', cmd: 'sleep 1', instances: 0, networks: [{ mode: 'container', name: 'dcos' }] }) });
  t.equal(again.status, 503);
  t.equal(again.headers.get('retry-after'), '1', 'the 503 says when to retry (Retry-After: 1)');
  await again.text();
  const plain = await requestJson(`${marathon}/v2/apps`, { body: { id: '/plain', cmd: 'sleep 1', instances: 0 } });
  t.equal(plain.status, 201, 'an app without networks is written at once');

  await agent.register();
  t.ok(await settledSoon(back), 'resolved once the agent re-registered');
  t.equal(m.agents.notReregistered, 0);

  m.servicesStarted();
  await newcomer.register();
  t.ok(newcomer.id, 'after servicesStarted() a new agent registers');
});

t.test('reregistered() resolves after its bound when an agent does not come back', async (t) => {
  const { m, clock } = await setup(t);
  const back = m.agents.reregistered(3000);
  clock.advance(2999);
  t.notOk(await settledSoon(back), 'still waiting at 2999 ms');
  clock.advance(1);
  t.ok(await settledSoon(back), 'resolved at the bound');
});

t.test('an agent whose re-registration is being written is not timed out', async (t) => {
  const { m, agent, clock, store } = await setup(t);
  let release!: () => void;
  store.hold = new Promise((r) => (release = r));
  const held = new Promise<void>((r) => (store.onHeld = r));
  const reg = agent.register();
  await held; // the master is writing the re-registration; the agent timeout passes meanwhile
  clock.advance(20_000);
  await m.agents.checkTimeouts();
  t.equal(m.cluster.agents.get(agent.id!)?.active, true, 'still active while its re-registration is in flight');
  store.hold = undefined;
  release();
  await reg;
  await m.agents.checkTimeouts();
  t.equal(m.cluster.agents.get(agent.id!)?.active, true, 'active after it');
});
