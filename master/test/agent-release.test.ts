/**
 * Removal releases: an agent removed with `DELETE /api/v1/agents/{id}` (`sextant node rm`) or
 * unreachable past the timeout keeps its record, VTEP address and overlay subnets for the release
 * grace period (and keeps them if it comes back within it), then loses them: gone from the master's
 * store, the overlay's store records, and the snapshot an agent receives over the control plane,
 * also across a master restart. Real master, overlay and control plane in process on an injected
 * clock; scripted agents over HTTP.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock, requestJson } from '../../common/index.js';
import { API, type OverlayAgent, type PartName, type Snapshot, type SnapshotConsumer } from '../../contracts/index.js';
import { ControlClient, ControlServer } from '../../control/index.js';
import { OverlayMaster } from '../../overlay/index.js';
import { eventually, loopbackBlock } from '../../test/lib/index.js';
import { Master } from '../master.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { FakeAgent } from '../../test/lib/fake-agent.js';

process.env.SEXTANT_LOG_LEVEL ??= 'warn';

const GRACE = 60_000;

interface Teardownable {
  teardown(fn: () => unknown): void;
}

class LastView implements SnapshotConsumer {
  readonly name = 'test';
  readonly parts: PartName[] = ['overlay_agents'];
  last: Snapshot | undefined;
  async apply(view: Snapshot): Promise<void> {
    this.last = view;
  }
  agents(): string[] {
    return (this.last?.parts.overlay_agents ?? []).map((a: OverlayAgent) => a.agent_id).sort();
  }
}

/** A master (+ overlay + control server) on a work dir; call again on the same dir for a restart. */
async function startCluster(t: Teardownable, ip: (h: number) => string, workDir: string, clock: FakeClock, agentTimeoutMs: number) {
  const master = new Master({ ip: ip(1), port: 0, marathonPort: 0, workDir, clock, agentTimeoutMs, agentReleaseGraceMs: GRACE, limits: DEFAULT_LIMITS, vipRanges: [] });
  await master.start();
  const overlay = new OverlayMaster(master, { clock });
  await overlay.start();
  const control = new ControlServer({ host: ip(1), port: 0, coalesceMs: 5, sources: overlay.sources() });
  await control.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await control.stop();
    await overlay.stop();
    await master.stop();
  };
  t.teardown(stop);
  return { master, overlay, control, stop, mesos: `${ip(1)}:${master.port}` };
}

async function agentOn(t: Teardownable, c: { master: Master; mesos: string }, ip: string): Promise<FakeAgent> {
  const a = new FakeAgent({ ip, master: c.mesos, hostname: ip });
  await a.start();
  t.teardown(() => a.stop());
  await a.register();
  await c.master.agents.whenVerified(a.id!);
  return a;
}

async function watcher(t: Teardownable, c: { control: ControlServer }, ip: string, agentId: string): Promise<LastView & { stop(): Promise<void> }> {
  const view = new LastView();
  const client = new ControlClient({ agentId, masters: [`${ip}:${c.control.port}`], consumers: [view], backoff: { initialMs: 20, maxMs: 200 } });
  await client.start();
  t.teardown(() => client.stop());
  return Object.assign(view, { stop: () => client.stop() });
}

t.test('node rm: refused while the agent is active; with force, released after the grace period, not before, also after a restart', async (t) => {
  const ip = loopbackBlock();
  const workDir = mkdtempSync(join(tmpdir(), 'sx-release-'));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  const clock = new FakeClock(Date.now());
  let c = await startCluster(t, ip, workDir, clock, 3_600_000);
  const a = await agentOn(t, c, ip(2));
  const b = await agentOn(t, c, ip(3));
  await eventually(() => c.overlay.allocator.agents.size === 2, 5000, 20, 'both agents have a share');
  const shareA = c.overlay.allocator.agents.get(a.id!)!;
  const view = await watcher(t, c, ip(1), b.id!);
  await eventually(() => view.agents().length === 2, 5000, 20, 'B receives both shares');

  const refused = await requestJson(`http://${c.mesos}${API.agent(a.id!)}`, { method: 'DELETE' });
  t.equal(refused.status, 409, 'an active agent is not removed without force');
  t.match((refused.body as { message: string }).message, /is active .* stop it first/, 'the message says why');
  t.equal((await requestJson(`http://${c.mesos}${API.agent('nobody-S9')}`, { method: 'DELETE' })).status, 404, 'unknown agent: 404');

  const rm = await requestJson(`http://${c.mesos}${API.agent(a.id!)}?force=true`, { method: 'DELETE' });
  t.equal(rm.status, 200, JSON.stringify(rm.body));
  t.match(rm.body, { agent_id: a.id, release_at: Number }, 'says when it is released');
  t.equal(await a.heartbeat(), 404, 'its heartbeats now ask it to re-register');
  t.notOk((await requestJson(`http://${c.mesos}/master/state`)).body && ((await requestJson(`http://${c.mesos}/master/state`)).body as { slaves: { id: string }[] }).slaves.some((s) => s.id === a.id), 'not among the slaves');

  clock.advance(GRACE / 2);
  // Restart the master (and its overlay and control plane) halfway through the grace period.
  await view.stop();
  await c.stop();
  c = await startCluster(t, ip, workDir, clock, 3_600_000);
  b.o.master = c.mesos;
  t.ok(await c.master.store.get(`master/agents/${a.id}`), 'after the restart the record is still there (within the grace)');
  t.same(c.overlay.allocator.agents.get(a.id!), shareA, 'and the share, unchanged');
  const view2 = await watcher(t, c, ip(1), b.id!);
  await eventually(() => view2.agents().length === 2, 5000, 20, 'the snapshot still has both');
  t.equal(await b.heartbeat(), 200, 'B heartbeats to the new master');

  clock.advance(GRACE / 2 - 2000);
  await c.master.agents.checkTimeouts();
  t.ok(await c.master.store.get(`master/agents/${a.id}`), 'not released before the grace period ends');
  t.ok(await c.master.store.get(`overlay/agents/${encodeURIComponent(a.id!)}`), 'overlay record kept');

  clock.advance(3000);
  await eventually(async () => !(await c.master.store.get(`master/agents/${a.id}`)), 5000, 20, 'the agent record is gone from the store');
  await eventually(() => !c.overlay.allocator.agents.has(a.id!), 5000, 20, 'its VTEP and subnets are free');
  t.notOk(await c.master.store.get(`overlay/agents/${encodeURIComponent(a.id!)}`), 'the overlay record is gone from the store');
  await eventually(() => JSON.stringify(view2.agents()) === JSON.stringify([b.id]), 5000, 20, 'the snapshot B receives no longer has A');

  await view2.stop();
  await c.stop();
  c = await startCluster(t, ip, workDir, clock, 3_600_000);
  t.notOk(c.master.cluster.agents.has(a.id!), 'a restarted master does not bring it back');
  t.notOk(c.overlay.allocator.agents.has(a.id!), 'nor its share');
  const back = await requestJson(`http://${c.mesos}${API.register}`, {
    headers: a.headers(),
    body: { agent_id: a.id, hostname: 'a', ip: ip(2), port: a.port, resources: { cpus: 1, mem: 1 }, tasks: [] },
  });
  t.equal(back.status, 403, 'the removed agent cannot come back under its old id');
  t.match(back.body, { reason: 'unknown_agent' }, 'reason unknown_agent: it registers as a new agent');
});

t.test('unreachable: back within the grace keeps VTEP and subnets; past it, they are released', async (t) => {
  const ip = loopbackBlock();
  const workDir = mkdtempSync(join(tmpdir(), 'sx-release-'));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  const clock = new FakeClock(Date.now());
  const c = await startCluster(t, ip, workDir, clock, 10_000);
  const a = await agentOn(t, c, ip(2));
  const b = await agentOn(t, c, ip(3));
  await eventually(() => c.overlay.allocator.agents.size === 2, 5000, 20, 'both agents have a share');
  const shareA = c.overlay.allocator.agents.get(a.id!)!;
  const view = await watcher(t, c, ip(1), b.id!);
  await eventually(() => view.agents().length === 2, 5000, 20, 'B receives both shares');
  const keepB = async (ms: number) => {
    for (let i = 0; i < ms; i += 5000) {
      clock.advance(5000);
      t.equal(await b.heartbeat(), 200);
    }
  };

  await keepB(15_000);
  await eventually(() => c.master.cluster.agents.get(a.id!)?.active === false, 5000, 20, 'A unreachable');
  await keepB(GRACE - 25_000);
  t.equal((await a.register()).agent_id, a.id, 'A comes back within the grace with its secret');
  t.same(c.overlay.allocator.agents.get(a.id!), shareA, 'same VTEP address and subnets');

  await keepB(15_000);
  await eventually(() => c.master.cluster.agents.get(a.id!)?.active === false, 5000, 20, 'A unreachable again');
  await keepB(GRACE - 15_000);
  await c.master.agents.checkTimeouts();
  t.ok(c.overlay.allocator.agents.has(a.id!), 'kept before the grace ends');
  await keepB(20_000);
  await eventually(() => !c.overlay.allocator.agents.has(a.id!), 5000, 20, 'released after the grace');
  t.notOk(await c.master.store.get(`overlay/agents/${encodeURIComponent(a.id!)}`), 'gone from the store');
  t.notOk(await c.master.store.get(`master/agents/${a.id}`), 'the agent record too');
  await eventually(() => JSON.stringify(view.agents()) === JSON.stringify([b.id]), 5000, 20, 'and from the snapshot B receives');
  const c2 = await agentOn(t, c, ip(4));
  await eventually(() => c.overlay.allocator.agents.get(c2.id!)?.vtep_ip === shareA.vtep_ip, 5000, 20, 'a new agent can get the released VTEP address');
});
