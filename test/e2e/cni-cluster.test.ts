/**
 * CNI end to end through real processes (issue 8): `sextant up --netns --agents 3` (a master, three
 * agents in their own namespaces with the default node services: overlay, cni, dispatcher, l4lb,
 * control), an app POSTed to Marathon with 2 instances on network `dcos`, one per agent. Then:
 * each task's Mesos status carries a 9.0.x.y address; each instance answers on its container
 * port from the task on the other agent (client run inside that task's namespace); the
 * dispatcher of every agent answers `web.marathon.containerip.dcos.thisdcos.directory` with
 * exactly the two task IPs, and so does a lookup from inside a task through the resolv.conf the
 * agent wrote for it; killing the app removes the task namespaces. Run once with our plugin and
 * once with the standard `bridge` + `host-local` plugins (SEXTANT_CNI_PLUGINS=standard).
 */
import t, { type Test } from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requestJson } from '../../common/http.js';
import { eventually, requireNetns, requireTools } from '../lib/index.js';
import { netnsList, startNetnsUp, taskNetns, type NetnsCluster } from './netns-up.js';

t.setTimeout(150_000);

const APP = 'web';
const NAME = `${APP}.marathon.containerip.dcos.thisdcos.directory`;
const PORT = 8080;

function app(): Record<string, unknown> {
  const js = `require("http").createServer((q,r)=>r.end(process.env.MESOS_TASK_ID)).listen(+process.env.PORT0)`;
  return {
    id: `/${APP}`,
    cmd: `exec '${process.execPath}' -e '${js}'`,
    instances: 2,
    cpus: 0.1,
    mem: 64,
    networks: [{ mode: 'container', name: 'dcos' }],
    container: { type: 'MESOS', portMappings: [{ containerPort: PORT, name: 'http' }] },
    constraints: [['hostname', 'UNIQUE']],
  };
}

interface Task {
  id: string;
  agent: number;
  ip: string;
  ns: string;
}

/** The app's running tasks as the master reports them (Mesos state). */
async function runningTasks(c: NetnsCluster): Promise<Task[]> {
  const st = (await requestJson(`${c.master}/master/state`)).body as any;
  const tasks = (st.frameworks ?? []).flatMap((f: any) => f.tasks ?? []).filter((x: any) => x.name === APP && x.state === 'TASK_RUNNING');
  return tasks.map((x: any) => {
    const last = [...x.statuses].reverse().find((s: any) => s.container_status?.network_infos);
    const ip = last?.container_status.network_infos.flatMap((n: any) => n.ip_addresses.map((a: any) => a.ip_address))[0];
    return { id: x.id, agent: c.agents.findIndex((a) => a.id === x.slave_id) + 1, ip, ns: taskNetns(x.id) };
  });
}

function twoRunning(c: NetnsCluster): Promise<Task[]> {
  return eventually(async () => {
    const ts = await runningTasks(c);
    return ts.length === 2 ? ts : undefined;
  }, 40_000, 250, '2 running tasks of /web');
}

const dig = (server: string | undefined, name: string) => ['dig', '+short', '+time=1', '+tries=2', ...(server ? [`@${server}`] : []), name];
const sortedLines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean).sort();

async function scenario(t: Test, c: NetnsCluster): Promise<void> {
  const res = await requestJson(`${c.marathon}/v2/apps`, { body: app() });
  t.equal(res.status, 201, 'Marathon accepts an app on network dcos', res.status === 201 ? {} : { body: res.body });
  const tasks = await twoRunning(c);

  for (const task of tasks) t.match(task.ip, /^9\.0\.\d+\.\d+$/, `${task.id} has a 9.0.x.y address in its Mesos status (${task.ip})`);
  t.not(tasks[0]!.agent, tasks[1]!.agent, 'the instances run on different agents');
  t.not(tasks[0]!.ip, tasks[1]!.ip, 'distinct addresses');

  for (const task of tasks) {
    const names = sortedLines(await c.inAgent(task.agent, ['ip', 'netns', 'list']).then((s) => s.replace(/ \(id: \d+\)/g, '')));
    t.ok(names.includes(task.ns), `agent ${task.agent} runs ${task.id} in its own namespace ${task.ns}`);
    const addr = await c.inAgent(task.agent, ['ip', '-n', task.ns, '-4', '-br', 'addr', 'show', 'eth0']);
    t.match(addr, task.ip, `the task namespace's eth0 holds ${task.ip}`);
  }

  // Each instance, from the task on the other agent (inside that task's namespace).
  for (const [from, to] of [
    [tasks[0]!, tasks[1]!],
    [tasks[1]!, tasks[0]!],
  ] as const) {
    // TASK_RUNNING means started, not yet listening: allow it a moment to bind.
    const get = () => c.inAgent(from.agent, ['ip', 'netns', 'exec', from.ns, 'curl', '-sS', '-m', '5', `http://${to.ip}:${PORT}/`]);
    const body = await eventually(get, 10_000, 200, `${to.ip}:${PORT} answering`).catch((e: Error) => e.message);
    t.equal(body, to.id, `task on agent ${from.agent} reaches ${to.id} at ${to.ip}:${PORT}`);
  }

  const want = tasks.map((x) => x.ip).sort();
  for (let i = 1; i <= c.agents.length; i++) {
    const a = c.agents[i - 1]!;
    const got = await eventually(async () => {
      const ips = sortedLines(await c.inAgent(i, dig(a.ip, NAME)));
      return JSON.stringify(ips) === JSON.stringify(want) ? ips : undefined;
    }, 15_000, 250, `dispatcher of agent ${i} answering ${NAME}`).catch(async () => sortedLines(await c.inAgent(i, dig(a.ip, NAME))));
    t.same(got, want, `dispatcher on agent ${i} (${a.ip}:53): ${NAME} -> exactly the two task IPs`);
  }
  for (const task of tasks) {
    const resolv = readFileSync(join('/etc/netns', task.ns, 'resolv.conf'), 'utf8');
    t.match(resolv, `nameserver ${c.agents[task.agent - 1]!.ip}`, `${task.id}'s resolv.conf points at its agent's dispatcher`);
    const ips = sortedLines(await c.inAgent(task.agent, ['ip', 'netns', 'exec', task.ns, ...dig(undefined, NAME)]));
    t.same(ips, want, `${NAME} resolves from inside ${task.id} through its resolv.conf`);
  }

  const del = await requestJson(`${c.marathon}/v2/apps/${APP}`, { method: 'DELETE' });
  t.ok(del.status >= 200 && del.status < 300, 'app deleted');
  await eventually(async () => (await runningTasks(c)).length === 0, 20_000, 250, 'tasks of /web gone');
  for (const task of tasks) {
    await eventually(async () => !(await c.inAgent(task.agent, ['ip', 'netns', 'list'])).includes(task.ns), 15_000, 250, `${task.ns} removed`).catch(() => undefined);
    t.notOk((await c.inAgent(task.agent, ['ip', 'netns', 'list'])).includes(task.ns), `killing ${task.id} removed its namespace ${task.ns}`);
    t.notOk(netnsList().includes(task.ns), `${task.ns} not left in /run/netns`);
    t.notOk(existsSync(join('/etc/netns', task.ns)), `/etc/netns/${task.ns} removed`);
  }
}

/** The conflist agent 1 writes for dcos once the control plane gave it its slice. */
function conflist(c: NetnsCluster): Promise<any> {
  const path = join(c.agents[0]!.dir, 'cni', 'net.d', 'dcos.conflist');
  return eventually(() => existsSync(path) && JSON.parse(readFileSync(path, 'utf8')), 15_000, 100, path);
}

requireNetns();
requireTools('ip', 'nsenter', 'dig', 'curl');

t.test('app on network dcos through master, Marathon, agents and dispatcher (sextant-cni)', async (t) => {
  const c = await startNetnsUp(t, 3);
  const conf = await conflist(c);
  t.same(conf.plugins.map((p: any) => p.type), ['sextant-cni'], 'the agent wrote a conflist for dcos running our plugin');
  await scenario(t, c);

  // Stopping the cluster with the app still running (agents run with --kill-tasks-on-exit) ends
  // the tasks through the attacher too: no namespace, resolv.conf or task process is left.
  await requestJson(`${c.marathon}/v2/apps`, { body: app() });
  const tasks = await twoRunning(c);
  t.equal(await c.stop(), 0, 'sextant up stops cleanly on SIGINT');
  t.notMatch(c.up.output(), /leftover task/, 'every agent ended its own tasks');
  for (const task of tasks) {
    t.notOk(netnsList().includes(task.ns), `cluster stop removed ${task.ns}`);
    t.notOk(existsSync(join('/etc/netns', task.ns)), `cluster stop removed /etc/netns/${task.ns}`);
  }
});

t.test('the same with the standard bridge + host-local plugins (SEXTANT_CNI_PLUGINS=standard)', async (t) => {
  requireTools('/usr/lib/cni/bridge', '/usr/lib/cni/host-local');
  const c = await startNetnsUp(t, 3, { SEXTANT_CNI_PLUGINS: 'standard' });
  const conf = await conflist(c);
  t.equal(conf.plugins[0].type, 'bridge', 'the conflist runs the standard bridge plugin');
  t.equal(conf.plugins[0].ipam?.type, 'host-local', 'with host-local IPAM');
  await scenario(t, c);
});
