/**
 * The agent's side of the protocol's identity (contracts/protocol.ts): it keeps the secret the
 * master issues in its work dir (mode 0600), sends it on every later call, proves it on the
 * master's callback, numbers each task's updates (persisted, continuing after a restart), and
 * starts over as a new agent when the master no longer knows its id. Against a scripted master.
 */
import t from 'tap';
import { readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { agentProof, hashAgentSecret, newAgentSecret, parseAgentAuthorization } from '../../common/agent-credentials.js';
import { Router, serve, requestJson } from '../../common/http.js';
import { API, type RegisterRequest, type StatusUpdate } from '../../contracts/index.js';
import { Agent } from '../agent.js';
import { eventually } from '../../test/lib/index.js';
import { taskInfo, tempWorkDir } from './helpers.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

interface Seen<T> {
  body: T;
  auth: string | undefined;
}

async function scriptedMaster(t: Teardownable) {
  const m = {
    secrets: new Map<string, string>(),
    registrations: [] as Seen<RegisterRequest>[],
    heartbeats: [] as Seen<{ agent_id: string }>[],
    statuses: [] as Seen<StatusUpdate>[],
    /** Answer the next re-registration with 403 unknown_agent (the master forgot the agent). */
    forget: false,
    next: 0,
    addr: '',
  };
  const auth = (h: string | string[] | undefined) => (typeof h === 'string' ? h : undefined);
  const router = new Router()
    .post(API.register, (req) => {
      const body = req.body as RegisterRequest;
      m.registrations.push({ body, auth: auth(req.headers.authorization) });
      if (body.agent_id && m.forget) {
        m.forget = false;
        return { status: 403, json: { message: `agent ${body.agent_id} is not known`, reason: 'unknown_agent' } };
      }
      if (body.agent_id) return { json: { agent_id: body.agent_id, master_id: 'm1', heartbeat_interval_ms: 50 } };
      const id = `scripted-S${m.next++}`;
      const secret = newAgentSecret();
      m.secrets.set(id, secret);
      return { json: { agent_id: id, master_id: 'm1', heartbeat_interval_ms: 50, agent_secret: secret, pending: true } };
    })
    .post(API.heartbeat, (req) => {
      m.heartbeats.push({ body: req.body as { agent_id: string }, auth: auth(req.headers.authorization) });
      return { json: {} };
    })
    .post(API.status, (req) => {
      m.statuses.push({ body: req.body as StatusUpdate, auth: auth(req.headers.authorization) });
      return { json: {} };
    });
  const srv = await serve(router, { host: '127.0.0.1', port: 0 });
  t.teardown(() => srv.close());
  m.addr = `127.0.0.1:${srv.address().port}`;
  return m;
}

async function startAgent(t: Teardownable, master: string, workDir: string) {
  const agent = new Agent({ masters: [master], ip: '127.0.0.1', port: 0, workDir, hostname: 'node-1' });
  await agent.start();
  t.teardown(() => agent.stop());
  return { agent, url: `http://127.0.0.1:${agent.port}` };
}

const credsOf = (s: { auth: string | undefined }) => parseAgentAuthorization(s.auth);

t.test('keeps the issued secret (0600), sends it on every call, answers the callback with the proof', async (t) => {
  const m = await scriptedMaster(t);
  const wd = tempWorkDir(t);
  const { agent, url } = await startAgent(t, m.addr, wd.dir);
  const id = await agent.registered();
  const secret = m.secrets.get(id)!;
  t.equal(m.registrations[0]!.auth, undefined, 'a first registration has no credentials');
  const file = join(wd.dir, 'agent.json');
  t.same(JSON.parse(readFileSync(file, 'utf8')), { agent_id: id, secret }, 'id and secret in agent.json');
  t.equal(statSync(file).mode & 0o777, 0o600, 'agent.json is mode 0600');

  const nonce = 'n'.repeat(32);
  const ping = await requestJson(`${url}${API.ping}`, { body: { agent_id: id, nonce } });
  t.equal(ping.status, 200);
  t.same(ping.body, { agent_id: id, proof: agentProof(hashAgentSecret(secret), nonce) }, 'the proof is the HMAC of the nonce keyed by the hash of its secret');
  t.equal((await requestJson(`${url}${API.ping}`, { body: { agent_id: 'someone-else', nonce } })).status, 404, 'a ping for another agent id is not answered');
  t.equal((await requestJson(`${url}${API.ping}`, { body: { agent_id: id, nonce: 'short' } })).status, 422, 'a short nonce is refused');

  await eventually(() => m.heartbeats.length >= 2, 5000, 20, 'heartbeats');
  t.same(credsOf(m.heartbeats[0]!), { agentId: id, secret }, 'heartbeats carry the credentials');

  await requestJson(`${url}${API.launch}`, { body: { task: taskInfo('seq.1', 'sleep 30', { agent_id: id }) } });
  await eventually(() => m.statuses.some((s) => s.body.state === 'TASK_RUNNING'), 10000, 20, 'RUNNING');
  t.ok(m.statuses.every((s) => JSON.stringify(credsOf(s)) === JSON.stringify({ agentId: id, secret })), 'status updates carry the credentials');
  t.same(m.statuses.map((s) => s.body.seq), [1, 2], 'STARTING and RUNNING are numbered 1, 2');
  t.equal(JSON.parse(readFileSync(join(wd.dir, 'tasks', 'seq.1.json'), 'utf8')).seq, 2, 'the sequence is checkpointed with the task');
  await agent.killAllTasks(100);
  await eventually(() => m.statuses.some((s) => s.body.state === 'TASK_KILLED'), 10000, 20, 'KILLED');
  t.same(m.statuses.map((s) => s.body.seq), [1, 2, 3, 4], 'KILLING and KILLED continue it');
});

t.test('after a restart: same credentials, the sequence continues; a master that forgot the agent makes it start over', async (t) => {
  const m = await scriptedMaster(t);
  const wd = tempWorkDir(t);
  const first = await startAgent(t, m.addr, wd.dir);
  const id = await first.agent.registered();
  const secret = m.secrets.get(id)!;
  await requestJson(`${first.url}${API.launch}`, { body: { task: taskInfo('keep.1', 'sleep 30', { agent_id: id }) } });
  await eventually(() => m.statuses.some((s) => s.body.state === 'TASK_RUNNING'), 10000, 20, 'RUNNING');
  await first.agent.stop();

  const second = await startAgent(t, m.addr, wd.dir);
  t.teardown(() => second.agent.killAllTasks(0));
  await second.agent.registered();
  const again = m.registrations.at(-1)!;
  t.equal(again.body.agent_id, id, 'same id');
  t.same(credsOf(again), { agentId: id, secret }, 'the re-registration carries the secret from disk');
  t.match(again.body.tasks, [{ task_id: 'keep.1', state: 'TASK_RUNNING', seq: 2 }], 'the report carries the last seq');
  second.agent.killAllTasks(100);
  await eventually(() => m.statuses.some((s) => s.body.state === 'TASK_KILLED'), 10000, 20, 'KILLED');
  t.same(m.statuses.filter((s) => s.body.task_id === 'keep.1').map((s) => s.body.seq), [1, 2, 3, 4], 'numbers continue after the restart');
  await second.agent.stop();

  m.forget = true;
  const regs = m.registrations.length;
  const third = await startAgent(t, m.addr, wd.dir);
  const fresh = await third.agent.registered();
  t.not(fresh, id, 'registered as a new agent');
  t.same(m.registrations.slice(regs).map((r) => [r.body.agent_id ?? null, r.auth === undefined]), [[id, false], [null, true]], 'refused as unknown, then a fresh registration without credentials');
  t.same(JSON.parse(readFileSync(join(wd.dir, 'agent.json'), 'utf8')), { agent_id: fresh, secret: m.secrets.get(fresh) }, 'the new id and secret replaced the old ones');
  t.ok(existsSync(join(wd.dir, 'agent.json')));
});
