/**
 * Issue 24: `sextant up --status-file PATH` describes what runs, with full URLs that answer and
 * pids that are alive; it is rewritten when an agent process dies (kill -9 by its pid) and marked
 * stopped when `up` exits.
 */
import t from 'tap';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { requestJson } from '../../common/http.js';
import { alive, eventually } from '../lib/index.js';
import { spawnUp, upArgs, upPlan, upWorkDir } from './up-lib.js';

t.setTimeout(180_000);

interface Status {
  state: string;
  pid: number;
  masters: { id: string; mesos: string; marathon: string; pid: number; leader: boolean; state: string }[];
  agents: { id: string; ip: string; api: string; pid: number; netns: string | null; state: string; exit?: string }[];
  token?: string;
  ca?: string;
  cli_cert?: string;
  cli_key?: string;
}

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Status;

t.test('--status-file matches what runs and follows it', async (t) => {
  const plan = await upPlan();
  const dir = upWorkDir(t, 'stat');
  const file = join(dir, 'status', 'cluster.json');
  const up = spawnUp(t, upArgs(plan, dir, 2, ['--no-example', '--status-file', file], { secure: true }), dir);
  await up.waitFor(/sextant up: ready/, 90_000);
  const out = up.output();

  const s = read(file);
  t.equal(s.state, 'up');
  t.equal(s.pid, up.pid, 'names the sextant up process');
  t.equal(s.masters.length, 1, 'one master');
  const m = s.masters[0]!;
  t.equal(m.pid, Number(out.match(/^master: pid (\d+)/m)?.[1]), 'the master pid is the one up printed');
  t.ok(alive(m.pid), 'and it is alive');
  t.equal(m.mesos, `https://${plan.ipBase}.1:${plan.masterPort}`, 'full Mesos URL (mutual TLS)');
  t.equal(m.marathon, `https://${plan.ipBase}.1:${plan.marathonPort}`, 'full Marathon URL');
  t.equal(m.leader, true);
  // Issue 30: the component ports take the operator certificate the status file names, and no caller without one.
  t.type(s.cli_cert, 'string', 'the status file names the cli certificate');
  t.equal(statSync(s.cli_key!).mode & 0o777, 0o600, 'its key is 0600');
  const tls = { ca: readFileSync(s.ca!), cert: readFileSync(s.cli_cert!), key: readFileSync(s.cli_key!) };
  const state = await requestJson(`${m.mesos}/master/state`, { tls });
  t.equal((state.body as { id: string }).id, m.id, 'the Mesos URL answers with this master id');
  t.match((state.body as { flags: unknown }).flags, { insecure_dev: 'false' });
  t.equal((await requestJson(`${m.marathon}/v2/apps`, { tls })).status, 200, 'the Marathon URL answers');
  t.match(await requestJson(`${m.mesos}/master/state`, { tls: { ca: tls.ca } }), { status: 401, body: { reason: 'no_client_certificate' } }, 'without the certificate: 401');

  // Issue 30: a superuser token for this cluster, in a file only its owner reads.
  t.equal(statSync(file).mode & 0o777, 0o600, 'the status file is 0600 (it holds a token)');
  t.type(s.token, 'string', 'the status file has a token');
  const who = await requestJson(`${m.mesos}/acs/api/v1/auth/whoami`, { headers: { authorization: `token=${s.token}` }, tls });
  t.match(who.body, { uid: 'admin', superuser: true }, 'the token is the superuser admin');
  const pw = join(dir, 'admin-password');
  t.equal(statSync(pw).mode & 0o777, 0o600, 'the admin password file is 0600');
  t.ok(out.includes(`password ${readFileSync(pw, 'utf8').trim()} (shown once`), 'the summary shows the password once');

  t.equal(s.agents.length, 2, 'two agents');
  for (const [i, a] of s.agents.entries()) {
    t.equal(a.ip, `${plan.ipBase}.${i + 2}`);
    t.equal(a.api, `https://${a.ip}:${plan.agentPort}`, `agent ${i + 1}: full API URL`);
    t.equal(a.netns, null, 'in the host namespace');
    t.equal(a.state, 'running');
    t.ok(alive(a.pid), `agent ${i + 1}: pid ${a.pid} alive`);
    const st = await requestJson(`${a.api}/state`, { tls });
    t.equal((st.body as { id: string }).id, a.id, `agent ${i + 1}: the API URL answers with this agent id`);
  }

  // kill -9 agent 1 by the pid in the file: the file says so.
  const victim = s.agents[0]!;
  process.kill(victim.pid, 'SIGKILL');
  const after = await eventually(() => read(file).agents[0]?.state === 'exited' && read(file), 15_000, 50, 'the status file to mark agent 1 exited');
  t.equal(after.agents[0]!.exit, 'SIGKILL', 'agent 1 exited by SIGKILL');
  t.equal(after.agents[1]!.state, 'running', 'agent 2 still running');
  t.equal(after.state, 'up');

  up.kill('SIGINT');
  t.equal(await up.exited, 0, 'sextant up stops cleanly');
  const end = read(file);
  t.equal(end.state, 'stopped', 'the file is marked stopped');
  t.ok([...end.masters, ...end.agents].every((p) => p.state === 'exited' && !alive(p.pid)), 'every process it lists has exited');
  t.notOk(existsSync(`${file}.${up.pid}.tmp`), 'no temp file left');
});
