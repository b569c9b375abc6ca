import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router, serve, requestJson } from '../../common/http.js';
import { API, type RegisterRequest, type StatusUpdate } from '../../contracts/index.js';
import { Agent } from '../agent.js';
import { eventually } from '../../test/lib/index.js';
import { taskInfo, tempWorkDir, alive } from './helpers.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

/** A scripted master: records registrations and status updates; behaviour switchable per test. */
async function scriptedMaster(t: Teardownable) {
  const m = {
    registrations: [] as RegisterRequest[],
    statuses: [] as StatusUpdate[],
    heartbeats: 0,
    heartbeatStatus: 200,
    /** Fail this many status POSTs first (the agent must retry). */
    failStatuses: 0,
    addr: '',
  };
  const router = new Router()
    .post(API.register, (req) => {
      const body = req.body as RegisterRequest;
      m.registrations.push(body);
      m.heartbeatStatus = 200;
      return { json: { agent_id: body.agent_id ?? 'scripted-S0', master_id: 'm1', heartbeat_interval_ms: 50 } };
    })
    .post(API.heartbeat, () => {
      m.heartbeats++;
      return { status: m.heartbeatStatus, json: {} };
    })
    .post(API.status, (req) => {
      if (m.failStatuses > 0) {
        m.failStatuses--;
        return { status: 503, json: { message: 'try again' } };
      }
      const u = req.body as StatusUpdate;
      if (!m.statuses.some((s) => s.uuid === u.uuid)) m.statuses.push(u);
      return { json: {} };
    });
  const srv = await serve(router, { host: '127.0.0.1', port: 0 });
  t.teardown(() => srv.close());
  m.addr = `127.0.0.1:${srv.address().port}`;
  return m;
}

async function startAgent(t: Teardownable, master: string, workDir: string) {
  const agent = new Agent({ masters: [master], ip: '127.0.0.1', port: 0, workDir, hostname: 'node-1', attributes: { rack: 'a' } });
  await agent.start();
  t.teardown(() => agent.stop());
  return { agent, url: `http://127.0.0.1:${agent.port}` };
}

const states = (m: { statuses: StatusUpdate[] }, id: string) => m.statuses.filter((s) => s.task_id === id).map((s) => s.state);

t.test('registers, launches over HTTP, reports statuses in order despite failures, serves /state', async (t) => {
  const m = await scriptedMaster(t);
  const wd = tempWorkDir(t);
  const { agent, url } = await startAgent(t, m.addr, wd.dir);
  const id = await agent.registered();
  t.equal(id, 'scripted-S0');
  t.same(JSON.parse(readFileSync(join(wd.dir, 'agent.json'), 'utf8')), { agent_id: 'scripted-S0' }, 'agent id persisted');
  t.match(m.registrations[0], { hostname: 'node-1', ip: '127.0.0.1', port: agent.port, attributes: { rack: 'a' }, tasks: [] });
  t.teardown(() => agent.killAllTasks(0));

  m.failStatuses = 3;
  const launch = await requestJson(`${url}${API.launch}`, { body: { task: taskInfo('web.1', 'sleep 30', { ports: [31005] }) } });
  t.equal(launch.status, 200);
  await eventually(() => states(m, 'web.1').includes('TASK_RUNNING'), 10000, 20, 'RUNNING at master');
  t.same(states(m, 'web.1'), ['TASK_STARTING', 'TASK_RUNNING'], 'in order, each once, after retries');
  t.equal(m.statuses[1]!.agent_id, 'scripted-S0');
  t.equal(m.statuses[1]!.container_status?.network_infos[0]?.ip_addresses[0]?.ip_address, '127.0.0.1');

  const dup = await requestJson(`${url}${API.launch}`, { body: { task: taskInfo('web.1', 'sleep 30') } });
  t.equal(dup.status, 409, 'duplicate launch');
  const bad = await requestJson(`${url}${API.launch}`, { body: { task: { task_id: '../etc', command: {} } } });
  t.equal(bad.status, 422, 'bad launch');
  t.match(bad.body, { details: [{ path: '/task/task_id' }] });

  const st = (await requestJson(`${url}/state`)).body as Record<string, any>;
  t.equal(st.id, 'scripted-S0');
  t.equal(st.pid, `slave(1)@127.0.0.1:${agent.port}`);
  t.equal(st.resources.ports, '[31000-32000]');
  const task = st.frameworks[0].executors[0].tasks[0];
  t.match(task, { id: 'web.1', state: 'TASK_RUNNING', slave_id: 'scripted-S0', resources: { ports: '[31005-31005]' } });
  t.match((await requestJson(`${url}/health`)).body, { healthy: true, registered: true });
  const metrics = await fetch(`${url}/metrics`).then((r) => r.text());
  t.match(metrics, /sextant_agent_tasks\{state="TASK_RUNNING"[^}]*\} 1/);

  const kill = await requestJson(`${url}${API.kill}`, { body: { task_id: 'web.1', grace_period_ms: 1000 } });
  t.equal(kill.status, 200);
  await eventually(() => states(m, 'web.1').includes('TASK_KILLED'), 10000, 20, 'KILLED at master');
  t.equal((await requestJson(`${url}${API.kill}`, { body: { task_id: 'nope' } })).status, 200, 'unknown task kill is fine');
});

t.test('re-registers on 404 and after a restart, with the same id and its running tasks', async (t) => {
  const m = await scriptedMaster(t);
  const wd = tempWorkDir(t);
  const first = await startAgent(t, m.addr, wd.dir);
  await first.agent.registered();
  await requestJson(`${first.url}${API.launch}`, { body: { task: taskInfo('keep.1', 'sleep 30') } });
  await eventually(() => states(m, 'keep.1').includes('TASK_RUNNING'), 10000, 20, 'RUNNING');
  const pid = first.agent.tasks()[0]!.pid!;
  t.teardown(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  });

  m.heartbeatStatus = 404;
  await eventually(() => m.registrations.length >= 2, 5000, 20, 're-registration after 404');
  t.match(m.registrations[1], { agent_id: 'scripted-S0', tasks: [{ task_id: 'keep.1', state: 'TASK_RUNNING' }] });

  await first.agent.stop();
  t.ok(alive(pid), 'a plain stop leaves tasks running');
  const second = await startAgent(t, m.addr, wd.dir);
  await eventually(() => m.registrations.length >= 3, 5000, 20, 'restarted agent registers');
  const again = m.registrations[m.registrations.length - 1]!;
  t.equal(again.agent_id, 'scripted-S0', 'same agent id after restart');
  t.same(again.tasks.map((x) => [x.task_id, x.state]), [['keep.1', 'TASK_RUNNING']], 'its task, once');
  await second.agent.killAllTasks(100);
  await eventually(() => states(m, 'keep.1').includes('TASK_KILLED'), 5000, 20, 'KILLED');
  t.notOk(alive(pid), 'no orphan');
});

t.test('heartbeat failures then success trigger a re-registration (master restarted)', async (t) => {
  const m = await scriptedMaster(t);
  const wd = tempWorkDir(t);
  const { agent } = await startAgent(t, m.addr, wd.dir);
  await agent.registered();
  m.heartbeatStatus = 503;
  const hb = m.heartbeats;
  await eventually(() => m.heartbeats > hb + 1, 5000, 20, 'failed heartbeats');
  const regs = m.registrations.length;
  m.heartbeatStatus = 200;
  await eventually(() => m.registrations.length > regs, 5000, 20, 're-registration');
  t.pass('re-registered');
});
