/**
 * The cluster backbone end to end, on real processes: `sextant up` -> an app with 3 instances
 * serving HTTP on $PORT0 -> all RUNNING and answering -> /master/state lists them as Mesos would
 * -> kill one task's process: replaced -> kill -9 an agent: its tasks go LOST and are relaunched
 * on the other agent -> restart that agent: no orphan, no duplicate -> scale to 5 -> DELETE: no
 * process of the app remains.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { requestJson } from '../../common/http.js';
import { eventually, requireTools, uniqueName } from '../lib/index.js';
import { appTasks, httpGet, httpServerCmd, processesWith, runningTasks, startUp, killMarkedOnTeardown } from './backbone-lib.js';

t.setTimeout(180_000);

t.test('backbone: up, launch, replace, lose an agent, scale, delete', async (t) => {
  const c = await startUp(t, 2, 3000);
  const marker = uniqueName('mark');
  const appId = '/e2e/web';
  killMarkedOnTeardown(t, marker);

  const post = await requestJson(`${c.marathon}/v2/apps`, {
    body: { id: appId, cmd: httpServerCmd(marker), instances: 3, cpus: 0.1, mem: 32, portDefinitions: [{ port: 0, name: 'http', protocol: 'tcp' }] },
  });
  t.equal(post.status, 201, 'app created');

  // All RUNNING, each answers HTTP on its host:port with its own task id.
  const first = await runningTasks(c, appId, 3);
  for (const task of first) t.equal(await httpGet(task.host, task.ports[0]!), task.id, `${task.id} answers on ${task.host}:${task.ports[0]}`);
  t.equal(processesWith(marker).length, 3, 'one process per task');

  // /master/state lists them as Mesos would.
  const state = (await requestJson(`${c.master}/master/state`)).body as any;
  const fw = state.frameworks.find((f: any) => f.name === 'marathon');
  t.ok(fw, 'marathon framework listed');
  const slaveIds = new Set(state.slaves.map((s: any) => s.id));
  t.equal(state.slaves.length, 2, 'two agents');
  for (const s of state.slaves) t.match(s.pid, /^slave\(1\)@127\.\d+\.\d+\.\d+:\d+$/);
  for (const task of first) {
    const mt = fw.tasks.find((x: any) => x.id === task.id);
    t.match(mt, { name: 'web.e2e', state: 'TASK_RUNNING', framework_id: fw.id, resources: { ports: `[${task.ports[0]}-${task.ports[0]}]` } }, `${task.id} in state`);
    t.ok(slaveIds.has(mt.slave_id), 'on a known agent');
    const running = mt.statuses.filter((s: any) => s.state === 'TASK_RUNNING').pop();
    t.equal(running?.container_status?.network_infos?.[0]?.ip_addresses?.[0]?.ip_address, task.host, 'status carries the task IP');
    t.ok(running.timestamp > 1e9, 'timestamps in seconds');
  }

  // Kill one task's process: it is replaced.
  const victim = first[0]!;
  const vpid = processesWith(marker).find((p) => {
    try {
      return require_env(p).includes(`MESOS_TASK_ID=${victim.id}`);
    } catch {
      return false;
    }
  });
  t.ok(vpid, 'found the victim task process');
  process.kill(vpid!, 'SIGKILL');
  const afterKill = await runningTasks(c, appId, 3, 30_000, (ts) => !ts.some((x) => x.id === victim.id));
  t.notOk(afterKill.some((x) => x.id === victim.id), 'killed task replaced by a new one');

  // Kill -9 an agent: its tasks go LOST and are relaunched on the other agent.
  const deadIp = c.agentIp(1);
  const liveIp = c.agentIp(2);
  const onDead = afterKill.filter((x) => x.host === deadIp).map((x) => x.id);
  process.kill(c.agentPid(1), 'SIGKILL');
  const moved = await runningTasks(c, appId, 3, 40_000, (ts) => ts.every((x) => x.host === liveIp));
  t.ok(moved.every((x) => x.host === liveIp), 'all tasks now on the surviving agent');
  if (onDead.length) {
    const st = (await requestJson(`${c.master}/master/state`)).body as any;
    const all = st.frameworks.flatMap((f: any) => [...f.tasks, ...(f.completed_tasks ?? [])]);
    for (const id of onDead) t.equal(all.find((x: any) => x.id === id)?.state, 'TASK_LOST', `${id} went TASK_LOST`);
  }

  // Restart the killed agent: it re-registers with its old tasks, which the master kills: no duplicate, no orphan.
  await c.restartAgent(t, 1);
  await eventually(() => processesWith(marker).length === 3, 20_000, 200, 'exactly 3 app processes (old ones killed)');
  t.equal((await runningTasks(c, appId, 3)).length, 3, 'still exactly 3 running tasks');

  // Scale to 5.
  const put = await requestJson(`${c.marathon}/v2/apps${appId}`, { method: 'PUT', body: { instances: 5 } });
  t.ok(put.status === 200 || put.status === 201, `scale accepted (${put.status})`);
  const five = await runningTasks(c, appId, 5);
  for (const task of five) t.equal(await httpGet(task.host, task.ports[0]!), task.id, `${task.id} answers`);

  // DELETE: no process of the app remains.
  const del = await requestJson(`${c.marathon}/v2/apps${appId}`, { method: 'DELETE' });
  t.equal(del.status, 200, 'app deleted');
  await eventually(() => processesWith(marker).length === 0, 20_000, 200, 'no process of the app');
  t.equal((await requestJson(`${c.marathon}/v2/apps${appId}`)).status, 404, 'app gone');
  t.same(await appTasks(c, appId).catch(() => []), [], 'no tasks listed');

  // Agents without --netns run the control plane only: nothing of the overlay, L4LB or DNS lands
  // in the host namespace (a restarted agent once came back with every node service). Only root
  // can change (or list) the host's kernel state, so only then is there something to check.
  if (process.getuid?.() !== 0) return;
  requireTools('nft', 'ip');
  const hostNft = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  t.notMatch(hostNft, /sextant_(overlay|l4lb)/, 'no sextant nft table in the host namespace');
  const hostLinks = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  t.notMatch(hostLinks, /vtep1024|m-dcos/, 'no overlay link in the host namespace');
});

import { readFileSync } from 'node:fs';
function require_env(pid: number): string {
  return readFileSync(`/proc/${pid}/environ`, 'utf8');
}
