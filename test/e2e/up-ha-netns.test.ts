/**
 * Issue 25: `sextant up --masters 3 --netns`. Each master and its ZooKeeper server run in their
 * own network namespace on the hub bridge, the agents in theirs; the status file lists the three
 * masters (exactly one leader) and the ensemble; both agents are registered at the leader; the
 * example app runs and answers from an agent's namespace, and its name resolves there through the
 * agent's dispatcher, as do master.dcos.thisdcos.directory (all 3 masters: the control plane's
 * masters part lists the election's contenders) and leader.dcos.thisdcos.directory. Secure, as
 * `up` is by default: every master and agent serves https (the test presents the status file's
 * operator certificate). Ctrl-C (SIGINT) stops everything and removes every namespace of the run.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requestJson as plainRequest } from '../../common/http.js';
import { alive, eventually, requireTools, requireZooKeeperServer } from '../lib/index.js';
import { startHaNetnsUp } from './ha-netns-up.js';
import { netnsList } from './netns-up.js';

t.setTimeout(600_000);
const sh = promisify(execFile);

t.test('sextant up --masters 3 --netns: masters, ZooKeeper and agents each in their own namespace', async (t) => {
  if (process.getuid?.() !== 0) throw new Error('this test needs root (network namespaces)');
  requireZooKeeperServer();
  requireTools('ip', 'dig', 'curl');
  const c = await startHaNetnsUp(t, { masters: 3, agents: 2, kind: 'uphans' });
  const requestJson: typeof plainRequest = (url, opts = {}) => plainRequest(url, { ...opts, ...(c.tls ? { tls: c.tls } : {}) });
  const s = c.status();
  t.ok(c.tls && s.masters.every((m) => m.mesos.startsWith('https://')) && s.agents.every((a) => a.api.startsWith('https://')), 'mutual TLS: every master and agent serves https');
  t.equal(s.masters.length, 3, 'three masters');
  t.equal(s.masters.filter((m) => m.leader).length, 1, 'exactly one leader');
  t.equal(s.zookeeper?.length, 3, 'three ZooKeeper servers');
  for (const [k, m] of c.masters.entries()) {
    const pids = (await sh('ip', ['netns', 'pids', m.ns])).stdout.split(/\s+/).filter(Boolean).map(Number);
    const st = s.masters[k]!;
    t.ok(alive(st.pid) && pids.includes(st.pid), `master ${m.n} (pid ${st.pid}) runs in ${m.ns}`);
    const zk = s.zookeeper![k]!;
    t.ok(pids.includes(zk.pid), `ZooKeeper server ${k + 1} (pid ${zk.pid}) runs in ${m.ns} too`);
    t.equal(zk.address.split(':')[0], m.ip, `ZooKeeper server ${k + 1} listens on the namespace's address ${m.ip}`);
    t.equal((await requestJson(`${m.marathon}/v2/leader`, { timeoutMs: 5000 })).status, 200, `master ${m.n} answers on ${m.marathon} (forwarded from its namespace)`);
  }
  const lead = s.masters.find((m) => m.leader)!;
  const state = (await requestJson(`${lead.mesos}/master/state`, { timeoutMs: 5000 })).body as { slaves: { id: string; active: boolean }[] };
  t.same(state.slaves.filter((x) => x.active).map((x) => x.id).sort(), c.agents.map((a) => a.id).sort(), 'both agents are registered at the leader');
  for (const [i, a] of c.agents.entries()) {
    const pids = (await sh('ip', ['netns', 'pids', a.ns])).stdout.split(/\s+/).filter(Boolean).map(Number);
    t.ok(pids.includes(a.pid), `agent ${i + 1} runs in ${a.ns}`);
  }
  const tasks = (await requestJson(`${lead.marathon}/v2/apps/hello/tasks`, { timeoutMs: 5000 })).body as { tasks: { id: string; host: string; ports: number[]; state?: string }[] };
  t.equal(tasks.tasks.filter((x) => x.state === 'TASK_RUNNING').length, 2, 'the example app runs 2 tasks');
  for (const task of tasks.tasks) {
    const r = await sh('ip', ['netns', 'exec', c.agents[0]!.ns, 'curl', '-s', '-m', '5', `http://${task.host}:${task.ports[0]}/`]);
    t.match(r.stdout, task.id, `task ${task.id} answers from agent 1's namespace`);
  }
  // Both tasks may run on one agent: the answer is the set of their hosts.
  const want = [...new Set(tasks.tasks.map((x) => x.host))].sort();
  let names: string[] = [];
  await eventually(async () => {
    const r = await sh('ip', ['netns', 'exec', c.agents[0]!.ns, 'dig', '+short', '+time=2', '+tries=2', 'hello.marathon.mesos', 'A']).catch(() => ({ stdout: '' }));
    names = [...new Set(r.stdout.trim().split('\n').filter(Boolean))].sort();
    return names.join() === want.join();
  }, 30_000, 200, 'hello.marathon.mesos to resolve in agent 1\'s namespace').catch(() => undefined);
  t.same(names, want, 'hello.marathon.mesos resolves through the agent\'s dispatcher to the tasks\' hosts');

  // The control plane's masters part lists every master of the election (#25): the dispatcher serves one record each.
  const dig = async (name: string) => [...new Set((await sh('ip', ['netns', 'exec', c.agents[0]!.ns, 'dig', '+short', '+time=2', '+tries=2', name, 'A']).catch(() => ({ stdout: '' }))).stdout.trim().split('\n').filter(Boolean))].sort();
  const masterIps = c.masters.map((m) => m.ip).sort();
  let listed: string[] = [];
  await eventually(async () => (listed = await dig('master.dcos.thisdcos.directory')).join() === masterIps.join(), 30_000, 200, 'master.dcos.thisdcos.directory to name the 3 masters').catch(() => undefined);
  t.same(listed, masterIps, 'master.dcos.thisdcos.directory names all 3 masters in agent 1\'s namespace');
  t.same(await dig('leader.dcos.thisdcos.directory'), [c.masters[s.masters.findIndex((m) => m.leader)]!.ip], 'leader.dcos.thisdcos.directory names the leader');

  // Ctrl-C: everything stops and every namespace of the run is gone.
  c.up.kill('SIGINT');
  await c.up.exited;
  t.equal(c.status().state, 'stopped', 'the status file says stopped');
  t.same(netnsList().filter((n) => n.startsWith(c.prefix)), [], `no namespace ${c.prefix}* is left`);
  t.notOk(existsSync(join('/etc/netns', `${c.prefix}a1`)), 'the agents\' /etc/netns directories are removed');
  for (const m of c.status().masters) t.notOk(alive(m.pid), `master pid ${m.pid} is gone`);
  for (const z of c.status().zookeeper ?? []) t.notOk(alive(z.pid), `ZooKeeper pid ${z.pid} is gone`);
});
