/**
 * Mutual TLS between a real master and real agents (in process, real sockets, real openssl):
 * agents bootstrap their certificates with the token and a CSR, tasks run, and the attacker's
 * attempts fail: plain HTTP, no client certificate, another CA, no or a wrong bootstrap token, a
 * stolen token re-registering an existing agent, agent A's certificate speaking for agent B's task,
 * an agent's certificate calling another agent. A restarted agent reuses its certificate.
 */
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { agentAuthorization, loadTls, requestJson, tlsDirPaths, type ClientTls } from '../../common/index.js';
import { Agent } from '../../agent/index.js';
import { API, BOOTSTRAP_TOKEN_HEADER } from '../../contracts/index.js';
import { Master } from '../master.js';
import { eventually, loopbackBlock, makeTestPki, requireTools } from '../../test/lib/index.js';

process.env.SEXTANT_LOG_LEVEL ??= 'error';
requireTools('openssl');

const plainGet = (url: string) =>
  new Promise<string>((resolve) => {
    const req = http.get(url, { agent: false }, (res) => (res.resume(), resolve(`HTTP ${res.statusCode}`)));
    req.on('error', (e) => resolve(`error ${e.message}`));
  });

t.test('secure master and agents: bootstrap, tasks, and every way around it refused', async (t) => {
  const ip = loopbackBlock();
  const pki = await makeTestPki(t);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sx-mtls-'));
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  const mdir = await pki.masterDir(ip(1));
  const master = new Master({
    ip: ip(1), port: 0, marathonPort: 0, workDir: path.join(work, 'master'),
    tls: { material: loadTls(tlsDirPaths(mdir)), signer: { cert: path.join(mdir, 'ca.crt'), key: path.join(mdir, 'ca.key') }, token: pki.token },
  });
  await master.start();
  t.teardown(() => master.stop());
  const mesos = `https://${ip(1)}:${master.port}`;
  const marathon = `https://${ip(1)}:${master.marathonPort}`;
  const caPem = fs.readFileSync(pki.ca);
  const agents: Agent[] = [];
  const startAgent = async (h: number, token: string | undefined, port = 0) => {
    const a = new Agent({ masters: [`${ip(1)}:${master.port}`], ip: ip(h), port, hostname: ip(h), workDir: path.join(work, `agent-${h}`), tls: { ca: caPem, ...(token ? { bootstrapToken: token } : {}) } });
    agents.push(a);
    await a.start();
    return a;
  };
  t.teardown(async () => {
    for (const a of agents) {
      await a.killAllTasks(100, 5000);
      await a.stop();
    }
  });
  const a = await startAgent(2, pki.token);
  const b = await startAgent(3, pki.token);
  const idA = await a.registered();
  const idB = await b.registered();
  await master.agents.whenVerified(idA);
  await master.agents.whenVerified(idB);

  t.test('bootstrap: each agent holds a CA-signed certificate naming its id, key and certificate 0600', async (t) => {
    for (const [ag, id, h] of [[a, idA, 2], [b, idB, 3]] as const) {
      const dir = path.join(ag.workDir, 'tls');
      const x = new X509Certificate(fs.readFileSync(path.join(dir, 'agent.crt')));
      t.ok(x.verify(new X509Certificate(caPem).publicKey), `${id}: signed by the cluster CA`);
      t.match(x.subjectAltName, `URI:spiffe://sextant/agent/${id}`, `${id}: URI SAN`);
      t.ok(x.checkIP(ip(h)), `${id}: IP SAN of the agent's address`);
      t.equal(fs.statSync(path.join(dir, 'agent.key')).mode & 0o777, 0o600);
      t.equal(fs.statSync(path.join(dir, 'agent.crt')).mode & 0o777, 0o600);
    }
  });

  const cli: ClientTls = pki.client(pki.cli);
  const aTls: ClientTls = { ca: caPem, cert: fs.readFileSync(path.join(a.workDir, 'tls/agent.crt')), key: fs.readFileSync(path.join(a.workDir, 'tls/agent.key')) };
  const secretOf = (ag: Agent) => (JSON.parse(fs.readFileSync(path.join(ag.workDir, 'agent.json'), 'utf8')) as { secret: string }).secret;

  // A task on B (the victim), deployed over mutual TLS with the operator's certificate.
  const deploy = await requestJson(`${marathon}/v2/apps`, { body: { id: '/victim', cmd: 'sleep 1000', instances: 1, cpus: 0.1, mem: 16, constraints: [['hostname', 'LIKE', ip(3)]] }, tls: cli });
  t.equal(deploy.status, 201, 'deploy with the cli certificate');
  const task = await eventually(async () => {
    const ts = (await requestJson(`${marathon}/v2/apps/victim/tasks`, { tls: cli })).body as { tasks: { id: string; state: string }[] };
    return ts.tasks[0]?.state === 'TASK_RUNNING' ? ts.tasks[0] : undefined;
  }, 20000, 50, 'the task runs on B');

  t.test('plain HTTP and HTTPS without a client certificate get nothing', async (t) => {
    for (const url of [`http://${ip(1)}:${master.port}/master/state`, `http://${ip(1)}:${master.marathonPort}/v2/apps`, `http://${ip(2)}:${a.port}/state`])
      t.notMatch(await plainGet(url), /HTTP 200/, `plain ${url}`);
    const r = await requestJson(`${mesos}/master/state`, { tls: { ca: caPem } });
    t.match(r, { status: 401, body: { reason: 'no_client_certificate' } }, ':5050 without a certificate: 401 naming why');
    await t.rejects(requestJson(`${marathon}/v2/apps`, { tls: { ca: caPem } }), ':8080 without a certificate: refused at the TLS layer');
    await t.rejects(requestJson(`https://${ip(2)}:${a.port}/state`, { tls: { ca: caPem } }), 'the agent API without a certificate: refused at the TLS layer');
    for (const url of [`${mesos}/master/state`, `${marathon}/v2/apps`, `https://${ip(2)}:${a.port}/state`])
      await t.rejects(requestJson(url, { tls: pki.client(pki.foreign) }), `a certificate of another CA: ${url} refused`);
    t.equal((await requestJson(`${mesos}/master/state`, { tls: cli })).status, 200, 'the operator certificate is accepted');
  });

  t.test('bootstrap token: missing or wrong is 401 naming it and stores nothing; a stolen one cannot re-register an agent', async (t) => {
    const before = master.cluster.agents.size;
    const reg = (extra: Record<string, unknown> = {}) => ({ hostname: 'evil', ip: ip(9), port: 5051, resources: { cpus: 64, mem: 65536 }, tasks: [], csr: fs.readFileSync(path.join(a.workDir, 'tls/agent.key'), 'utf8').replace(/PRIVATE KEY/g, 'CERTIFICATE REQUEST'), ...extra });
    const noCert = { ca: caPem };
    t.match(await requestJson(`${mesos}${API.register}`, { body: reg(), tls: noCert }), { status: 401, body: { reason: 'missing_bootstrap_token', message: /bootstrap token/ } });
    t.match(await requestJson(`${mesos}${API.register}`, { body: reg(), headers: { [BOOTSTRAP_TOKEN_HEADER]: 'x'.repeat(48) }, tls: noCert }), { status: 401, body: { reason: 'bad_bootstrap_token' } });
    t.match(await requestJson(`${mesos}${API.register}`, { body: reg({ agent_id: idA }), headers: { [BOOTSTRAP_TOKEN_HEADER]: pki.token, authorization: agentAuthorization(idA, secretOf(a)) }, tls: noCert }), { status: 401, body: { reason: 'missing_credentials', message: /needs its certificate/ } }, 'the token and even the secret do not re-register agent A without its certificate');
    t.match(await requestJson(`${mesos}${API.register}`, { body: reg(), headers: { [BOOTSTRAP_TOKEN_HEADER]: pki.token }, tls: noCert }), { status: 422, body: { details: [{ path: '/csr' }] } }, 'a CSR that is none: 422 naming csr');
    t.equal(master.cluster.agents.size, before, 'no agent record was stored');
    t.match(await requestJson(`${mesos}${API.register}`, { body: reg({ agent_id: idB }), headers: { authorization: agentAuthorization(idB, secretOf(b)) }, tls: aTls }), { status: 403, body: { reason: 'agent_mismatch' } }, "A's certificate cannot re-register B");
  });

  t.test("agent A's certificate cannot touch agent B's task; nothing changes", async (t) => {
    const failed = (agentId: string) => ({ agent_id: agentId, task_id: task.id, framework_id: '', state: 'TASK_FAILED', timestamp: Date.now() / 1000, uuid: `u-${Math.random()}`, seq: 10_000 });
    t.match(await requestJson(`${mesos}${API.status}`, { body: failed(idA), headers: { authorization: agentAuthorization(idA, secretOf(a)) }, tls: aTls }), { status: 403, body: { reason: 'not_task_owner' } }, 'as itself: not its task');
    t.match(await requestJson(`${mesos}${API.status}`, { body: failed(idB), headers: { authorization: agentAuthorization(idB, secretOf(b)) }, tls: aTls }), { status: 403, body: { reason: 'agent_mismatch', message: /certificate is agent/ } }, "with B's stolen secret: the certificate says A");
    t.match(await requestJson(`https://${ip(3)}:${b.port}${API.kill}`, { body: { task_id: task.id }, tls: aTls }), { status: 403, body: { reason: 'identity_not_allowed' } }, "A's certificate cannot call B's kill");
    const now = (await requestJson(`${marathon}/v2/apps/victim/tasks`, { tls: cli })).body as { tasks: { id: string; state: string }[] };
    t.match(now.tasks, [{ id: task.id, state: 'TASK_RUNNING' }], 'the task still runs');
  });

  t.test('a restarted agent reuses its certificate and re-registers without the token', async (t) => {
    const port = a.port;
    await a.stop();
    agents.splice(agents.indexOf(a), 1);
    const before = fs.readFileSync(path.join(a.workDir, 'tls/agent.crt'), 'utf8');
    const again = await startAgent(2, undefined, port);
    t.equal(await again.registered(), idA, 'same id');
    t.equal(fs.readFileSync(path.join(again.workDir, 'tls/agent.crt'), 'utf8'), before, 'same certificate');
    await master.agents.whenVerified(idA);
  });
});
