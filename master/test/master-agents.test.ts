/**
 * Agent lifecycle against the master over real HTTP: silent agents go unreachable and their
 * tasks TASK_LOST (replaced elsewhere), re-registration reconciles without duplicates, failed
 * and unhealthy tasks are relaunched with backoff. Time is a FakeClock: nothing sleeps.
 */
import t from 'tap';
import { eventually } from '../../test/lib/index.js';
import { startMaster } from './harness.js';

t.test('a silent agent becomes unreachable; its tasks are LOST and replaced on another agent', async (t) => {
  const h = await startMaster(t, { agentTimeoutMs: 15000 });
  const a = await h.agent(2);
  const b = await h.agent(3);
  await h.api('/v2/apps', { body: { id: '/web', cmd: 'sleep 1000', instances: 2, constraints: [['hostname', 'UNIQUE']] } });
  await eventually(() => a.running.size === 1 && b.running.size === 1, 5000, 20, 'one task per agent');
  const c = await h.agent(4);
  const lostId = [...a.running.keys()][0]!;

  t.equal(await a.heartbeat(), 200, 'heartbeat accepted');
  // 16 s pass; b and c keep heartbeating, a is silent.
  for (let i = 0; i < 4; i++) {
    h.clock.advance(4000);
    await b.heartbeat();
    await c.heartbeat();
  }
  t.equal(h.master.cluster.agents.get(a.id!)?.active, false, 'agent a unreachable');
  const lost = await eventually(() => h.master.cluster.completed.find((x) => x.info.task_id === lostId), 3000, 20, 'task lost');
  t.equal(lost?.state, 'TASK_LOST', 'its task is TASK_LOST');
  t.equal(await a.heartbeat(), 404, 'heartbeat from an unreachable agent asks it to re-register');
  const st = await h.state();
  t.notOk(st.slaves.some((s: any) => s.id === a.id), 'unreachable agent not listed as a slave');
  t.ok(st.frameworks[0].completed_tasks.some((x: any) => x.id === lostId && x.state === 'TASK_LOST'), 'lost task in completed_tasks');

  t.equal(c.launched.length, 0, 'no relaunch before the backoff');
  h.clock.advance(1000);
  await eventually(() => c.running.size === 1, 5000, 20, 'replacement launched on agent c');
  t.equal(h.master.marathon.backoffOf('/web')?.delayMs, 1000);

  // a comes back with its old task: the master does not know it any more, so it is killed.
  await a.register();
  await eventually(() => a.killed.includes(lostId), 3000, 20, 'stale task killed on re-registration');
  t.equal([...h.master.cluster.tasks.values()].filter((x) => x.app_id === '/web').length, 2, 'still exactly 2 tasks');
});

t.test('re-registration with running tasks: no duplicates, missing ones LOST, unknown ones killed', async (t) => {
  const h = await startMaster(t);
  const a = await h.agent(2);
  await h.api('/v2/apps', { body: { id: '/web', cmd: 'sleep 1000', instances: 2, cpus: 0.1 } });
  await eventually(() => a.running.size === 2, 5000, 20, '2 running');
  const [keep, drop] = [...a.running.keys()];
  const idBefore = a.id;
  a.running.delete(drop!);
  await a.register([{ task_id: 'ghost.1', framework_id: '', state: 'TASK_RUNNING', timestamp: 1 }]);
  t.equal(a.id, idBefore, 'same agent id');
  t.equal(h.master.cluster.agents.size, 1, 'no duplicate agent');
  t.equal(h.master.cluster.tasks.get(keep!)?.state, 'TASK_RUNNING', 'reported task kept');
  t.equal(h.master.cluster.completed.find((x) => x.info.task_id === drop)?.state, 'TASK_LOST', 'unreported task LOST');
  await eventually(() => a.killed.includes('ghost.1'), 3000, 20, 'unknown task killed');
  h.clock.advance(1000);
  await eventually(() => [...h.master.cluster.tasks.values()].filter((x) => x.state === 'TASK_RUNNING').length === 2, 5000, 20, 'back to 2');
  t.equal(new Set(a.launched.map((l) => l.task_id)).size, a.launched.length, 'no task launched twice');
});

t.test('failed and unhealthy tasks are relaunched with doubling backoff', async (t) => {
  const h = await startMaster(t);
  const a = await h.agent(2);
  await h.api('/v2/apps', {
    body: { id: '/hc', cmd: 'sleep 1000', instances: 1, cpus: 0.1, healthChecks: [{ protocol: 'HTTP', path: '/', portIndex: 0, maxConsecutiveFailures: 2, intervalSeconds: 1, gracePeriodSeconds: 1 }] },
  });
  await eventually(() => a.launched.length === 1, 5000, 20, 'launched');
  const t0 = a.launched[0]!;
  t.same(t0.health_check, { protocol: 'HTTP', path: '/', port_index: 0, interval_seconds: 1, timeout_seconds: 20, grace_period_seconds: 1, max_consecutive_failures: 2 }, 'health check handed to the agent');
  await a.report(t0.task_id, 'TASK_RUNNING', { healthy: true });
  await eventually(async () => (await h.api('/v2/apps/hc')).body.app?.tasksHealthy === 1, 3000, 20, 'healthy');
  await a.report(t0.task_id, 'TASK_RUNNING', { healthy: false });
  await eventually(async () => (await h.api('/v2/apps/hc')).body.app?.tasksUnhealthy === 1, 3000, 20, 'unhealthy counted');
  // The agent kills it after maxConsecutiveFailures and says so.
  await a.report(t0.task_id, 'TASK_KILLED', { healthy: false });
  await eventually(() => h.master.marathon.backoffOf('/hc')?.delayMs === 1000, 3000, 20, 'backoff 1 s');
  h.clock.advance(999);
  await new Promise((r) => setImmediate(r));
  t.equal(a.launched.length, 1, 'not relaunched before 1 s');
  h.clock.advance(1);
  await eventually(() => a.launched.length === 2, 3000, 20, 'relaunched after 1 s');

  await a.report(a.launched[1]!.task_id, 'TASK_FAILED');
  await eventually(() => h.master.marathon.backoffOf('/hc')?.delayMs === 2000, 3000, 20, 'backoff doubles to 2 s');
  h.clock.advance(1999);
  await new Promise((r) => setImmediate(r));
  t.equal(a.launched.length, 2, 'not relaunched before 2 s');
  h.clock.advance(1);
  await eventually(() => a.launched.length === 3, 3000, 20, 'relaunched after 2 s');
});

t.test('status updates are idempotent by uuid and bad agent input is refused', async (t) => {
  const h = await startMaster(t);
  const a = await h.agent(2, { autoRun: false });
  await h.api('/v2/apps', { body: { id: '/w', cmd: 'sleep 1', cpus: 0.1 } });
  await eventually(() => a.launched.length === 1, 5000, 20, 'launched');
  const id = a.launched[0]!.task_id;
  await a.report(id, 'TASK_RUNNING', { uuid: 'u1' });
  await a.report(id, 'TASK_FAILED', { uuid: 'u1' });
  t.equal(h.master.cluster.tasks.get(id)?.state, 'TASK_RUNNING', 'a repeated uuid is applied once');
  const bad = await fetch(`http://${h.mesos}/api/v1/agents/register`, { method: 'POST', body: JSON.stringify({ ip: 'not-an-ip', port: 1, resources: { cpus: 1, mem: 1 } }) });
  t.equal(bad.status, 422);
  t.match(await bad.text(), /ip/);
  const badStatus = await fetch(`http://${h.mesos}/api/v1/agents/status`, { method: 'POST', body: JSON.stringify({ agent_id: a.id, task_id: id, state: 'TASK_SLEEPY', timestamp: 1, uuid: 'u2' }) });
  t.equal(badStatus.status, 422);
  t.equal(h.master.cluster.tasks.get(id)?.state, 'TASK_RUNNING', 'unchanged');
  t.equal(h.master.cluster.agents.size, 1);
});
