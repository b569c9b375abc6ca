/**
 * Agent kill -9 and restart before the master gives up on it: the new agent process re-registers
 * with the same id, re-adopts its running tasks (same pids), the master does not relaunch them
 * (no duplicate), and an adopted task that dies is still noticed and replaced (no blind spot).
 */
import t from 'tap';
import { requestJson } from '../../common/http.js';
import { eventually, uniqueName } from '../lib/index.js';
import { httpGet, httpServerCmd, processesWith, runningTasks, startUp, killMarkedOnTeardown } from './backbone-lib.js';

t.setTimeout(120_000);

t.test('agent kill -9 + restart: same id, tasks adopted, no orphan, no duplicate', async (t) => {
  const c = await startUp(t, 2, 30_000);
  const marker = uniqueName('mark');
  const appId = '/adopt';
  killMarkedOnTeardown(t, marker);
  const post = await requestJson(`${c.marathon}/v2/apps`, {
    body: { id: appId, cmd: httpServerCmd(marker), instances: 4, cpus: 0.1, mem: 32, portDefinitions: [{ port: 0 }] },
  });
  t.equal(post.status, 201);
  const before = await runningTasks(c, appId, 4);
  const onAgent1 = before.filter((x) => x.host === c.agentIp(1));
  t.ok(onAgent1.length > 0, 'agent 1 runs some tasks');
  const pidsBefore = processesWith(marker).sort();
  const stateBefore = (await requestJson(`${c.master}/master/state`)).body as any;
  const agent1Id = stateBefore.slaves.find((s: any) => s.hostname === c.agentIp(1))?.id;

  process.kill(c.agentPid(1), 'SIGKILL');
  t.same(processesWith(marker).sort(), pidsBefore, 'tasks survive the agent');
  await c.restartAgent(t, 1);

  const after = (await requestJson(`${c.master}/master/state`)).body as any;
  t.equal(after.slaves.length, 2, 'no duplicate agent');
  t.equal(after.slaves.find((s: any) => s.hostname === c.agentIp(1))?.id, agent1Id, 'same agent id');
  const agentState = (await requestJson(`http://${c.agentIp(1)}:${c.agentPort}/state`)).body as any;
  const adopted = agentState.frameworks.flatMap((f: any) => f.executors.flatMap((e: any) => e.tasks)).map((x: any) => x.id).sort();
  t.same(adopted, onAgent1.map((x) => x.id).sort(), 'restarted agent reports its tasks');
  const same = await runningTasks(c, appId, 4);
  t.same(same.map((x) => x.id).sort(), before.map((x) => x.id).sort(), 'same tasks, none relaunched');
  t.same(processesWith(marker).sort(), pidsBefore, 'same processes: adopted, not restarted');

  // An adopted task that dies is noticed (polling /proc) and replaced.
  const victim = onAgent1[0]!;
  const vpid = processesWith(marker).find((p) => readEnv(p).includes(`MESOS_TASK_ID=${victim.id}`))!;
  process.kill(vpid, 'SIGKILL');
  const replaced = await runningTasks(c, appId, 4, 30_000, (ts) => !ts.some((x) => x.id === victim.id));
  for (const task of replaced) t.equal(await httpGet(task.host, task.ports[0]!), task.id, `${task.id} answers`);
  await eventually(() => processesWith(marker).length === 4, 10_000, 200, '4 app processes');

  t.equal((await requestJson(`${c.marathon}/v2/apps${appId}`, { method: 'DELETE' })).status, 200);
  await eventually(() => processesWith(marker).length === 0, 20_000, 200, 'no process of the app');
  t.pass('no orphan');
});

import { readFileSync } from 'node:fs';
function readEnv(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return '';
  }
}
