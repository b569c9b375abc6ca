/**
 * The agent protocol from the attacker's side (in process: a real master over HTTP, scripted
 * agents): calls without an agent's secret, with a wrong one, or with agent B's for agent A's task
 * are refused with the reason and change nothing; a replayed or stale update is dropped; an agent
 * that does not answer the callback on its advertised address gets no offers and no overlay share,
 * and a registration claiming another agent's address does not displace it.
 * (test/e2e/agent-protocol.test.ts does the same against real processes.)
 */
import t from 'tap';
import { agentAuthorization, requestJson } from '../../common/index.js';
import { API } from '../../contracts/index.js';
import { OverlayMaster } from '../../overlay/index.js';
import { eventually } from '../../test/lib/index.js';
import { startMaster, type Harness } from './harness.js';
import { FakeAgent } from '../../test/lib/fake-agent.js';

const app = (id: string, extra: Record<string, unknown> = {}) => ({ id, cmd: 'sleep 1000', instances: 1, cpus: 0.1, mem: 16, ...extra });

async function metric(h: Harness, name: string, labels: string): Promise<number> {
  const text = String((await requestJson(`http://${h.mesos}/metrics`)).body);
  const m = text.match(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}

function post(h: Harness, path: string, body: unknown, authorization?: string) {
  return requestJson(`http://${h.mesos}${path}`, { body, headers: authorization ? { authorization } : {} }) as Promise<{ status: number; body: any }>;
}

/** A running task of app `id`, on agent `a`. */
async function runningOn(h: Harness, a: FakeAgent, id: string): Promise<string> {
  t.equal((await h.api('/v2/apps', { body: app(id, { constraints: [['hostname', 'LIKE', a.o.hostname]] }) })).status, 201);
  return eventually(async () => {
    const tasks = (await h.api(`/v2/apps${id}/tasks`)).body.tasks as { id: string; state: string }[];
    return tasks.length === 1 && tasks[0]!.state === 'TASK_RUNNING' ? tasks[0]!.id : undefined;
  }, 10000, 20, `${id} running`);
}

t.test('spoofed status updates and registrations are refused with the reason; the task is untouched', async (t) => {
  const h = await startMaster(t);
  const a = await h.agent(2);
  const b = await h.agent(3);
  const taskId = await runningOn(h, a, '/victim');
  const before = JSON.stringify((await h.state()).frameworks[0].tasks);
  const failed = (agentId: string) => ({ agent_id: agentId, task_id: taskId, framework_id: '', state: 'TASK_FAILED', timestamp: Date.now() / 1000, uuid: `u-${Math.random()}`, seq: 1000 });
  const reg = (agentId: string | undefined, port: number) => ({ ...(agentId ? { agent_id: agentId } : {}), hostname: 'evil', ip: h.ip(2), port, resources: { cpus: 64, mem: 65536 }, tasks: [] });
  const wrong = agentAuthorization(a.id!, 'A'.repeat(43));
  const rows: [string, string, unknown, string | undefined, number, string][] = [
    ['status without credentials', API.status, failed(a.id!), undefined, 401, 'missing_credentials'],
    ['status with a malformed header', API.status, failed(a.id!), 'Sextant-Agent nonsense', 401, 'malformed_credentials'],
    ['status with a bearer token', API.status, failed(a.id!), 'Bearer abc', 401, 'missing_credentials'],
    ['status from a made-up agent', API.status, failed('made-up-S9'), agentAuthorization('made-up-S9', 'B'.repeat(43)), 403, 'unknown_agent'],
    ["status with a wrong secret for A", API.status, failed(a.id!), wrong, 403, 'bad_secret'],
    ["status naming A with B's credentials", API.status, failed(a.id!), b.headers().authorization, 403, 'agent_mismatch'],
    ["status for A's task from B (B's own credentials)", API.status, failed(b.id!), b.headers().authorization, 403, 'not_task_owner'],
    ["heartbeat for A with B's credentials", API.heartbeat, { agent_id: a.id }, b.headers().authorization, 403, 'agent_mismatch'],
    ["re-registration as A without a secret", API.register, reg(a.id, a.port), undefined, 401, 'missing_credentials'],
    ['re-registration as A with a wrong secret', API.register, reg(a.id, a.port), wrong, 403, 'bad_secret'],
    ["re-registration as A with B's credentials", API.register, reg(a.id, a.port), b.headers().authorization, 403, 'agent_mismatch'],
    ['re-registration of a made-up agent id', API.register, reg('made-up-S9', 5051), undefined, 403, 'unknown_agent'],
  ];
  for (const [what, path, body, auth, status, reason] of rows) {
    const n = await metric(h, 'sextant_master_agent_protocol_refused_total', `reason="${reason}"`);
    const r = await post(h, path, body, auth);
    t.equal(r.status, status, `${what}: ${status} (${JSON.stringify(r.body)})`);
    t.equal(r.body?.reason, reason, `${what}: reason ${reason}`);
    t.ok(typeof r.body?.message === 'string' && r.body.message.length > 10, `${what}: a message says why`);
    t.equal(await metric(h, 'sextant_master_agent_protocol_refused_total', `reason="${reason}"`), n + 1, `${what}: counted`);
  }
  t.equal(JSON.stringify((await h.state()).frameworks[0].tasks), before, 'the task is exactly as before');
  t.equal(a.launched.length + b.launched.length, 1, 'no replacement launched');
  t.same(a.killed, [], 'nothing killed on A');
  const slaves = (await h.state()).slaves.map((s: { id: string; hostname: string }) => [s.id, s.hostname]);
  t.same(slaves.sort(), [[a.id, 'agent2.test'], [b.id, 'agent3.test']].sort(), 'A is still A (no re-registration took over)');
});

t.test('a replayed or stale status update is dropped with 200 {"dropped":"stale"}', async (t) => {
  const h = await startMaster(t);
  const a = await h.agent(2);
  const taskId = await runningOn(h, a, '/replay');
  const seq = a.seqs.get(taskId)!;
  t.ok(seq >= 1, `the agent has numbered its updates (last ${seq})`);
  for (const [what, s] of [['same seq', seq], ['lower seq', seq - 1 || 1]] as const) {
    const r = await requestJson(`http://${h.mesos}${API.status}`, {
      headers: a.headers(),
      body: { agent_id: a.id, task_id: taskId, framework_id: '', state: 'TASK_FAILED', timestamp: Date.now() / 1000, uuid: `replay-${what}`, seq: s },
    });
    t.equal(r.status, 200, `${what}: 200, so a retry loop stops`);
    t.match(r.body, { dropped: 'stale' }, `${what}: says dropped`);
  }
  t.equal(await metric(h, 'sextant_master_status_updates_dropped_total', 'reason="stale"'), 2, 'counted');
  const tasks = (await h.api('/v2/apps/replay/tasks')).body.tasks;
  t.same(tasks.map((x: { id: string; state: string }) => [x.id, x.state]), [[taskId, 'TASK_RUNNING']], 'still running, no replacement');
  t.equal(await a.report(taskId, 'TASK_RUNNING', { healthy: true }), 200, 'the next seq is applied');
  await eventually(async () => (await h.api('/v2/apps/replay/tasks')).body.tasks[0]?.healthCheckResults?.[0]?.alive === true || (await h.state()).frameworks[0].tasks[0]?.statuses.at(-1)?.healthy === true, 5000, 20, 'health applied');
  t.pass('applied');
});

t.test('an agent that does not answer on its API gets no offers and no overlay share; answering later unlocks them', async (t) => {
  const h = await startMaster(t);
  const overlay = new OverlayMaster(h.master);
  await overlay.start();
  t.teardown(() => overlay.stop());
  const failures: string[] = [];
  h.master.agents.verifyListeners.add((id, ok, why) => !ok && failures.push(`${id}: ${why}`));

  const silent = new FakeAgent({ ip: h.ip(3), master: h.mesos, hostname: 'silent.test', answerPing: false });
  await silent.start();
  t.teardown(() => silent.stop());
  const resp = await silent.register();
  t.equal(resp.pending, true, 'registration answers pending');
  t.ok(resp.agent_secret, 'and issues a secret');
  await eventually(() => failures.some((f) => f.startsWith(silent.id!)), 5000, 20, 'the callback failed');
  t.equal(silent.pings, 1, 'the master called it back on its advertised address');
  t.equal(await silent.heartbeat(), 200, 'heartbeats are accepted (with its secret)');
  await eventually(() => silent.pings === 2 && failures.filter((f) => f.startsWith(silent.id!)).length === 2, 5000, 20, 'retried on the heartbeat');

  const real = await h.agent(2);
  t.equal((await h.api('/v2/apps', { body: app('/spread', { instances: 2, constraints: [['hostname', 'UNIQUE']] }) })).status, 201);
  await eventually(() => real.launched.length === 1, 5000, 20, 'one task on the verified agent');
  h.master.offers.trigger();
  await overlay.sync();
  await eventually(() => overlay.allocator.agents.has(real.id!), 5000, 20, 'the verified agent has an overlay share');
  t.same(silent.launched, [], 'no task offered to the silent agent');
  t.notOk(overlay.allocator.agents.has(silent.id!), 'no overlay share for it');
  t.notOk((await h.state()).slaves.some((s: { id: string }) => s.id === silent.id), 'not among /master/state slaves');
  const listed = (await requestJson(`http://${h.mesos}/master/slaves`)).body as { slaves: { id: string; active: boolean; pending?: boolean }[] };
  t.match(listed.slaves.find((s) => s.id === silent.id), { active: false, pending: true }, '/master/slaves shows it pending');
  t.equal(await metric(h, 'sextant_master_agents', 'state="pending"'), 1, 'sextant_master_agents{state="pending"}');

  silent.o.answerPing = true;
  t.equal(await silent.heartbeat(), 200);
  await h.master.agents.whenVerified(silent.id!);
  await eventually(() => silent.launched.length === 1, 5000, 20, 'once it answers, it gets the second task');
  await eventually(() => overlay.allocator.agents.has(silent.id!), 5000, 20, 'and an overlay share');
});

t.test('a registration claiming another agent\'s address stays pending and does not displace it', async (t) => {
  const h = await startMaster(t);
  const a = await h.agent(2);
  const taskId = await runningOn(h, a, '/kept');
  const failures: string[] = [];
  h.master.agents.verifyListeners.add((id, ok, why) => !ok && failures.push(`${id}: ${why}`));
  const spoof = new FakeAgent({ ip: h.ip(2), master: h.mesos, hostname: 'spoof.test', advertisePort: a.port });
  await spoof.start();
  t.teardown(() => spoof.stop());
  const resp = await spoof.register([{ task_id: taskId, framework_id: '', state: 'TASK_RUNNING', timestamp: Date.now() / 1000 }, { task_id: 'other.1', framework_id: '', state: 'TASK_RUNNING', timestamp: Date.now() / 1000 }]);
  t.equal(resp.pending, true);
  await eventually(() => failures.find((f) => f.startsWith(spoof.id!)), 5000, 20, 'its callback failed');
  t.match(failures.find((f) => f.startsWith(spoof.id!)), /did not answer the ping|answered as/, 'the real agent at that address did not vouch for it');
  t.equal(spoof.pings, 0, 'the callback went to the advertised address, not to the spoofer');
  const slaves = (await h.state()).slaves.map((s: { id: string }) => s.id);
  t.same(slaves, [a.id], 'A is still the active agent on its address');
  t.same(a.killed, [], 'no kill of the tasks the spoofer reported reached A');
  t.same((await h.api('/v2/apps/kept/tasks')).body.tasks.map((x: { id: string; state: string }) => [x.id, x.state]), [[taskId, 'TASK_RUNNING']], 'its task untouched');
});
