/**
 * Issue 24, "an agent protocol only agents can speak", from the attacker's side with real
 * processes: `sextant up` (a master and two agents, each its own process) runs a task on agent 1;
 * curl, a process that is not an agent, sends spoofed status updates (TASK_FAILED for the running
 * task) with no secret, a wrong secret, and agent 2's secret (read from its work dir), replays with
 * agent 1's own secret and an old sequence number, and registers as agent 1 or on its address.
 * Everything is refused or dropped: the task is untouched, no replacement starts, the process stays
 * alive, and the fake agent never gets offers. `sextant node rm` then removes it.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requestJson } from '../../common/index.js';
import { agentAuthorization } from '../../common/agent-credentials.js';
import { API } from '../../contracts/index.js';
import { eventually, requireTools } from '../lib/index.js';
import { appTasks, httpServerCmd, killMarkedOnTeardown, processesWith, runningTasks, sextantJs, startUp } from './backbone-lib.js';

const pexec = promisify(execFile);

/** POST as a separate process would: curl, with or without an Authorization header. */
async function curl(url: string, body: unknown, authorization?: string): Promise<{ status: number; body: any }> {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-m', '10', '-H', 'content-type: application/json', ...(authorization ? ['-H', `authorization: ${authorization}`] : []), '--data-binary', JSON.stringify(body), url];
  const { stdout } = await pexec('curl', args, { timeout: 15_000 });
  const nl = stdout.lastIndexOf('\n');
  const text = stdout.slice(0, nl);
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: Number(stdout.slice(nl + 1)), body: parsed };
}

async function metric(master: string, name: string, labels: string): Promise<number> {
  const text = String((await requestJson(`${master}/metrics`)).body);
  return Number(text.match(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm'))?.[1] ?? 0);
}

t.test('spoofed status updates and registrations from another process: refused, task untouched, no replacement, process alive', async (t) => {
  requireTools('curl');
  const c = await startUp(t, 2, 3000);
  const marker = `sx-agentp-${process.pid}-${Date.now()}`;
  killMarkedOnTeardown(t, marker);
  const post = await requestJson(`${c.marathon}/v2/apps`, { body: { id: '/victim', cmd: httpServerCmd(marker), instances: 1, cpus: 0.1, mem: 32, portDefinitions: [{ port: 0 }], constraints: [['hostname', 'LIKE', c.agentIp(1)]] } });
  t.equal(post.status, 201, JSON.stringify(post.body));
  const [task] = await runningTasks(c, '/victim', 1);
  const pids = processesWith(marker);
  t.ok(pids.length >= 1, `the task's process runs (${pids.join(',')})`);
  const creds = (i: number) => JSON.parse(readFileSync(join(c.workDir, `agent-${i}`, 'agent.json'), 'utf8')) as { agent_id: string; secret: string };
  const a1 = creds(1);
  const a2 = creds(2);
  t.equal(task!.slaveId, a1.agent_id, 'the task runs on agent 1');
  t.match(a1.secret, /^[A-Za-z0-9_-]{43}$/, 'agent 1 keeps a 32-byte secret in its work dir');

  const failed = (agentId: string, seq: number) => ({ agent_id: agentId, task_id: task!.id, framework_id: '', state: 'TASK_FAILED', timestamp: Date.now() / 1000, uuid: `spoof-${Math.random()}`, seq, message: 'spoofed' });
  const statusUrl = `${c.master}${API.status}`;
  const rows: [string, unknown, string | undefined, number, string][] = [
    ['no secret', failed(a1.agent_id, 1000), undefined, 401, 'missing_credentials'],
    ['a wrong secret', failed(a1.agent_id, 1000), agentAuthorization(a1.agent_id, 'x'.repeat(43)), 403, 'bad_secret'],
    ["agent 2's secret naming agent 1", failed(a1.agent_id, 1000), agentAuthorization(a2.agent_id, a2.secret), 403, 'agent_mismatch'],
    ["agent 2's secret for agent 1's task", failed(a2.agent_id, 1000), agentAuthorization(a2.agent_id, a2.secret), 403, 'not_task_owner'],
  ];
  for (const [what, body, auth, status, reason] of rows) {
    const r = await curl(statusUrl, body, auth);
    t.equal(r.status, status, `TASK_FAILED with ${what}: ${status} (${JSON.stringify(r.body)})`);
    t.equal(r.body?.reason, reason, `with ${what}: reason ${reason}`);
  }
  const replay = await curl(statusUrl, failed(a1.agent_id, 1), agentAuthorization(a1.agent_id, a1.secret));
  t.equal(replay.status, 200, 'a replayed update with an old seq (agent 1\'s own secret) is answered 200');
  t.match(replay.body, { dropped: 'stale' }, 'and dropped as stale');

  const reg = (agentId: string | undefined) => ({ ...(agentId ? { agent_id: agentId } : {}), hostname: 'evil', ip: c.agentIp(1), port: c.agentPort, resources: { cpus: 64, mem: 65536, disk: 0, ports: [[c.portBase, c.portBase + 999]] }, tasks: [] });
  const reregNoSecret = await curl(`${c.master}${API.register}`, reg(a1.agent_id));
  t.equal(reregNoSecret.status, 401, 're-registration as agent 1 without its secret is refused');
  const reregWrong = await curl(`${c.master}${API.register}`, reg(a1.agent_id), agentAuthorization(a1.agent_id, 'y'.repeat(43)));
  t.equal(reregWrong.status, 403, 'and with a wrong secret');
  const fresh = await curl(`${c.master}${API.register}`, reg(undefined));
  t.equal(fresh.status, 200, 'a new registration on agent 1\'s address is answered...');
  t.equal(fresh.body.pending, true, '...pending');
  const spoofId = fresh.body.agent_id as string;
  await eventually(async () => (await metric(c.master, 'sextant_master_agent_callbacks_total', 'result="failed"')) >= 1, 15_000, 100, 'the callback to agent 1\'s address failed (agent 1 is not the spoofer)');

  // After all of it: nothing changed.
  const tasks = await appTasks(c, '/victim');
  t.same(tasks.map((x) => [x.id, x.state, x.slaveId]), [[task!.id, 'TASK_RUNNING', a1.agent_id]], 'the task is untouched and no replacement was started');
  t.same(processesWith(marker), pids, 'the original process is still alive');
  const state = (await requestJson(`${c.master}/master/state`)).body as { slaves: { id: string }[] };
  t.same(state.slaves.map((s) => s.id).sort(), [a1.agent_id, a2.agent_id].sort(), 'only the real agents are slaves; agent 1 was not displaced');
  const slaves = (await requestJson(`${c.master}/master/slaves`)).body as { slaves: { id: string; pending?: boolean }[] };
  t.match(slaves.slaves.find((s) => s.id === spoofId), { pending: true }, 'the fake agent is listed pending');
  for (const reason of ['missing_credentials', 'bad_secret', 'agent_mismatch', 'not_task_owner'])
    t.ok((await metric(c.master, 'sextant_master_agent_protocol_refused_total', `reason="${reason}"`)) >= 1, `refusals counted: ${reason}`);

  // An app that wants more than the real agents have never lands on the fake one.
  t.equal((await requestJson(`${c.marathon}/v2/apps`, { body: { id: '/spread', cmd: `sleep 1000 # ${marker}`, instances: 3, cpus: 0.1, mem: 16, constraints: [['hostname', 'UNIQUE']] } })).status, 201);
  await runningTasks(c, '/spread', 2);
  const spread = await appTasks(c, '/spread');
  t.notOk(spread.some((x) => x.slaveId === spoofId), 'no task offered to the fake agent');

  const cli = (args: string[]) => pexec(process.execPath, [sextantJs, 'node', ...args, '--master', c.master], { timeout: 20_000 }).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, out: e.stdout ?? '', err: e.stderr ?? '' }),
  );
  const busy = await cli(['rm', spoofId]);
  t.equal(busy.code, 1, '`sextant node rm` of an agent that still counts as active fails without --force');
  t.match(busy.err, /409 .*is active/, 'naming why');
  const rm = await cli(['rm', spoofId, '--force']);
  t.equal(rm.code, 0, rm.err);
  t.match(rm.out, new RegExp(`removed ${spoofId}; its overlay subnets and VTEP address are released at `));
  const ls = await cli(['ls']);
  t.match(ls.out, new RegExp(`${spoofId} .* removed`), '`sextant node ls` shows it removed');
  t.match(ls.out, new RegExp(`${a1.agent_id} .* active`), 'and agent 1 active');
});
