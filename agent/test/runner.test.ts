import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordingRunner, taskInfo, tempWorkDir, alive } from './helpers.js';
import { groupMembers } from '../proc.js';
import { TaskRunner } from '../runner.js';
import type { TaskState } from '../../contracts/index.js';
import { eventually } from '../../test/lib/index.js';

const ends: { name: string; cmd: string; shell?: boolean; args?: string[]; state: TaskState; message: RegExp }[] = [
  { name: 'exit 0 finishes', cmd: 'exit 0', state: 'TASK_FINISHED', message: /status 0/ },
  { name: 'non-zero exit fails', cmd: 'exit 3', state: 'TASK_FAILED', message: /status 3/ },
  { name: 'death by signal fails', cmd: 'kill -9 $$', state: 'TASK_FAILED', message: /signal SIGKILL/ },
  { name: 'shell false runs argv', cmd: '/bin/sh', shell: false, args: ['-c', 'exit 0'], state: 'TASK_FINISHED', message: /status 0/ },
  { name: 'missing executable fails', cmd: '/nonexistent/x', shell: false, state: 'TASK_FAILED', message: /cannot start task/ },
];

t.test('task ends map to Mesos states', async (t) => {
  for (const row of ends) {
    const wd = tempWorkDir(t);
    const r = recordingRunner(t, { workDir: wd });
    const id = `t-${ends.indexOf(row)}`;
    r.runner.launch(taskInfo(id, row.cmd, { command: { value: row.cmd, shell: row.shell ?? true, arguments: row.args } }));
    const end = await r.untilState(id, row.state);
    t.match(end.message, row.message, row.name);
    t.ok(end.timestamp > 1e9 && end.timestamp < 1e11, `${row.name}: timestamp in seconds`);
    t.equal(r.states(id)[0], 'TASK_STARTING', `${row.name}: starts with TASK_STARTING`);
  }
});

t.test('sandbox holds stdout/stderr and env comes from TaskInfo', async (t) => {
  const wd = tempWorkDir(t);
  const r = recordingRunner(t, { workDir: wd });
  r.runner.launch(taskInfo('env-1', 'echo "$FOO $PORT0 $MESOS_TASK_ID"; echo oops >&2; pwd', { env: { FOO: 'bar', PORT0: '31001' } }));
  await r.untilState('env-1', 'TASK_FINISHED');
  t.same(r.states('env-1'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
  const out = readFileSync(join(wd.sandbox('env-1'), 'stdout'), 'utf8').split('\n');
  t.equal(out[0], 'bar 31001 env-1');
  t.equal(out[1], wd.sandbox('env-1'), 'cwd is the sandbox');
  t.equal(readFileSync(join(wd.sandbox('env-1'), 'stderr'), 'utf8'), 'oops\n');
});

t.test('kill: SIGTERM, then SIGKILL after the grace period; no process of the group is left', async (t) => {
  const rows = [
    { name: 'obeys SIGTERM', cmd: 'sleep 30 & wait', grace: 5000, maxMs: 3000 },
    { name: 'ignores SIGTERM', cmd: "trap '' TERM; sleep 30 & sleep 30 & wait; wait", grace: 300, minMs: 250, maxMs: 4000 },
  ];
  for (const row of rows) {
    const wd = tempWorkDir(t);
    const r = recordingRunner(t, { workDir: wd });
    const id = `k-${rows.indexOf(row)}`;
    r.runner.launch(taskInfo(id, row.cmd, { kill_grace_period_ms: row.grace }));
    await r.untilState(id, 'TASK_RUNNING');
    const pid = r.runner.get(id)!.pid!;
    await eventually(() => groupMembers(pid).length >= 2, 5000, 20, 'children started');
    const t0 = Date.now();
    t.ok(r.runner.kill(id));
    await r.untilState(id, 'TASK_KILLED');
    const took = Date.now() - t0;
    if (row.minMs) t.ok(took >= row.minMs, `${row.name}: waited the grace (${took} ms)`);
    t.ok(took < row.maxMs, `${row.name}: ended in ${took} ms`);
    t.same(r.states(id).slice(-2), ['TASK_KILLING', 'TASK_KILLED']);
    // SIGKILL of the leftovers is asynchronous: wait (bounded) for the kernel to finish them.
    await eventually(() => groupMembers(pid).length === 0, 2000, 20, 'group to empty').catch(() => undefined);
    t.same(groupMembers(pid), [], `${row.name}: no process left in the group`);
    t.notOk(r.runner.kill(id), 'killing an ended task is a no-op');
  }
});

t.test('a task that exits leaves no background children behind', async (t) => {
  const wd = tempWorkDir(t);
  const r = recordingRunner(t, { workDir: wd });
  r.runner.launch(taskInfo('bg-1', 'sleep 30 & echo started'));
  await r.untilState('bg-1', 'TASK_FINISHED');
  const pid = r.runner.get('bg-1')!.pid!;
  await eventually(() => groupMembers(pid).length === 0, 3000, 20, 'group empty');
  t.pass('group emptied');
});

t.test('duplicate launch is a conflict; a network task without attacher fails with a clear message', async (t) => {
  const wd = tempWorkDir(t);
  const r = recordingRunner(t, { workDir: wd });
  r.runner.launch(taskInfo('d-1', 'sleep 5'));
  t.throws(() => r.runner.launch(taskInfo('d-1', 'sleep 5')), { name: 'ConflictError' });
  r.runner.launch(taskInfo('n-1', 'sleep 5', { network: { name: 'dcos' } }));
  const end = await r.untilState('n-1', 'TASK_FAILED');
  t.match(end.message, /virtual networks are not set up/);
});

t.test('network tasks go through the attacher; kill detaches', async (t) => {
  const wd = tempWorkDir(t);
  const calls: string[] = [];
  const attacher = {
    async attach(req: { task_id: string; network: string }) {
      calls.push(`attach ${req.task_id} ${req.network}`);
      // No real netns in this unit test: `ip netns exec` would need root; the e2e CNI test covers it.
      return { netns: 'none', ip: '9.0.1.5' };
    },
    async detach(id: string, net: string) {
      calls.push(`detach ${id} ${net}`);
    },
  };
  const r = recordingRunner(t, { workDir: wd, attacher });
  r.runner.launch(taskInfo('net-1', 'sleep 5', { network: { name: 'dcos' } }));
  const first = await r.until('net-1', (e) => e.state !== 'TASK_STARTING');
  // `ip netns exec none` fails quickly without that namespace: still proves the argv and the IP.
  t.ok(first.container_status?.network_infos[0]?.ip_addresses.some((a) => a.ip_address === '9.0.1.5'), 'task IP in container_status');
  await r.until('net-1', (e) => e.state === 'TASK_FAILED' || e.state === 'TASK_KILLED' || e.state === 'TASK_RUNNING');
  r.runner.kill('net-1', 0);
  await r.until('net-1', (e) => ['TASK_FAILED', 'TASK_KILLED'].includes(e.state));
  await eventually(() => calls.includes('detach net-1 dcos'), 3000, 20, 'detach');
  t.equal(calls[0], 'attach net-1 dcos');
});

t.test('nameservers set later reach the attacher; killAll waits for detaches and refuses new launches', async (t) => {
  const wd = tempWorkDir(t);
  const seenNs: string[][] = [];
  let detached = false;
  let releaseDetach!: () => void;
  const detachGate = new Promise<void>((r) => (releaseDetach = r));
  const attacher = {
    async attach(req: { task_id: string; nameservers: string[] }) {
      seenNs.push(req.nameservers);
      return { netns: 'none', ip: '9.0.1.6' };
    },
    async detach() {
      await detachGate;
      detached = true;
    },
  };
  const r = recordingRunner(t, { workDir: wd, attacher });
  r.runner.setNameservers(['10.9.9.2']);
  r.runner.launch(taskInfo('ns-1', 'sleep 5', { network: { name: 'dcos' } }));
  await r.until('ns-1', (e) => e.state !== 'TASK_STARTING');
  t.same(seenNs, [['10.9.9.2']], 'the attach request carries the nameservers set after construction');
  let killed = false;
  const all = r.runner.killAll(0, 5000).then((v) => (killed = v));
  await r.until('ns-1', (e) => ['TASK_FAILED', 'TASK_KILLED'].includes(e.state));
  r.runner.launch(taskInfo('late-1', 'sleep 5'));
  const late = await r.untilState('late-1', 'TASK_FAILED');
  t.match(late.message, /agent is stopping/, 'a launch during killAll fails at once with a reason');
  await new Promise((res) => setImmediate(res));
  t.notOk(killed, 'killAll still waits while the network detach runs');
  releaseDetach();
  await all;
  t.ok(detached && killed, 'killAll resolves once the detach is done');
});

t.test('a task attached before the dispatcher came up gets its nameservers when they are set', async (t) => {
  const wd = tempWorkDir(t);
  const pushed: [string, string[]][] = [];
  let pushedOne!: () => void;
  const onePush = new Promise<void>((r) => (pushedOne = r));
  const attacher = {
    async attach(req: { task_id: string }) {
      return { netns: `ns-${req.task_id}`, ip: '9.0.1.7' };
    },
    async detach() {},
    async setNameservers(netns: string, ns: string[]) {
      pushed.push([netns, ns]);
      pushedOne();
    },
  };
  const r = recordingRunner(t, { workDir: wd, attacher });
  r.runner.launch(taskInfo('early-1', 'sleep 5', { network: { name: 'dcos' } }));
  r.runner.launch(taskInfo('host-1', 'sleep 5'));
  await r.untilState('early-1', 'TASK_RUNNING');
  t.same(pushed, [], 'nothing to push before the dispatcher is known');
  r.runner.setNameservers(['10.9.9.3']);
  await onePush;
  t.same(pushed, [['ns-early-1', ['10.9.9.3']]], 'the running network task is repointed; the host-network task has no namespace to update');
  await r.runner.killAll(0, 5000);
});

t.test('restart: live tasks are re-adopted, dead ones reported, kill still works', async (t) => {
  const wd = tempWorkDir(t);
  const a = new TaskRunner({ workDir: wd, agentIp: '127.0.0.1' });
  a.launch(taskInfo('live-1', 'sleep 30'));
  a.launch(taskInfo('dead-1', 'sleep 30'));
  await eventually(() => a.get('live-1')?.state === 'TASK_RUNNING' && a.get('dead-1')?.state === 'TASK_RUNNING', 5000, 20, 'running');
  const livePid = a.get('live-1')!.pid!;
  const deadPid = a.get('dead-1')!.pid!;
  t.teardown(() => {
    for (const p of [livePid, deadPid])
      try {
        process.kill(-p, 'SIGKILL');
      } catch {
        /* gone */
      }
  });
  a.stop(); // as if the agent died: tasks keep running, nothing watches them
  process.kill(-deadPid, 'SIGKILL');
  await eventually(() => !alive(deadPid), 3000, 20, 'dead task gone');

  const b = recordingRunner(t, { workDir: wd, adoptPollMs: 50 });
  const counts = b.runner.recover();
  t.same(counts, { adopted: 1, ended: 1, terminal: 0 });
  t.equal(b.runner.get('live-1')!.state, 'TASK_RUNNING', 'live task adopted');
  const dead = await b.untilState('dead-1', 'TASK_FAILED');
  t.match(dead.message, /exit status unknown/);
  b.runner.kill('live-1', 200);
  await b.untilState('live-1', 'TASK_KILLED');
  t.notOk(alive(livePid), 'adopted task killed');
  // A third incarnation finds only terminal records, never a duplicate of a running task.
  const c = new TaskRunner({ workDir: wd, agentIp: '127.0.0.1' });
  t.same(c.recover(), { adopted: 0, ended: 0, terminal: 2 });
  c.stop();
});
