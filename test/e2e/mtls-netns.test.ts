/**
 * Issue #30 "no way around it", from the attacker's side, on real processes (root): a secure
 * `sextant master` (--tls-dir, --bootstrap-token-file) and two agents that bootstrap their
 * certificates, each in its own network namespace, and an attacker in a fourth namespace on the same
 * bridge, armed with curl. Plain HTTP, HTTPS without a client certificate, a certificate of another
 * CA, registration without or with a wrong bootstrap token, a stolen token re-registering agent 1,
 * agent 1's certificate posting a status for agent 2's task or calling agent 2's API: all refused,
 * and the task keeps running. The operator's `cli` certificate deploys the app.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { agentAuthorization } from '../../common/agent-credentials.js';
import { API, BOOTSTRAP_TOKEN_HEADER } from '../../contracts/index.js';
import { bridgeNamespaces, createNetns, eventually, makeTestPki, requireNetns, requireTools, spawnTracked, type Netns } from '../lib/index.js';
import { sextantJs } from './backbone-lib.js';

t.setTimeout(240_000);
requireNetns();
requireTools('ip', 'curl', 'openssl');

interface Curl {
  code: number;
  body: any;
  error?: string;
}

/** curl inside a namespace: the HTTP status and JSON body, or code 0 and curl's error when no HTTP answer came. */
async function curl(ns: Netns, url: string, opts: { tls?: { ca: string; cert?: string; key?: string }; body?: unknown; headers?: Record<string, string> } = {}): Promise<Curl> {
  const args = ['-sS', '--max-time', '10', '-o', '-', '-w', '\n%{http_code}'];
  if (opts.tls) args.push('--cacert', opts.tls.ca, ...(opts.tls.cert ? ['--cert', opts.tls.cert, '--key', opts.tls.key!] : []));
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}: ${v}`);
  if (opts.body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(opts.body));
  try {
    const out = await ns.exec('curl', [...args, url]);
    const i = out.lastIndexOf('\n');
    const text = out.slice(0, i);
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* text */
    }
    return { code: Number(out.slice(i + 1)), body };
  } catch (e) {
    return { code: 0, body: undefined, error: (e as Error).message.split('\n').slice(-3).join(' ') };
  }
}

t.test('a secure master and agents: the attacker in another namespace gets nowhere', async (t) => {
  const [mns, a1ns, a2ns, evil] = [await createNetns(t, 'mtm'), await createNetns(t, 'mta'), await createNetns(t, 'mtb'), await createNetns(t, 'mte')];
  const { addrs } = await bridgeNamespaces(t, [mns!, a1ns!, a2ns!, evil!], `10.${randomInt(100, 200)}.${randomInt(1, 250)}`);
  const [mip, a1ip, a2ip] = addrs as [string, string, string, string];
  const pki = await makeTestPki(t);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sx-mtls-e2e-'));
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  const mdir = await pki.masterDir(mip);
  const env = { ...process.env, SEXTANT_MASTER_SERVICES: '', SEXTANT_NODE_SERVICES: '', SEXTANT_LOG_LEVEL: 'warn' };
  const [mf, ma] = mns!.wrap(process.execPath, [sextantJs, 'master', '--ip', mip, '--work-dir', path.join(work, 'master'), '--tls-dir', mdir, '--bootstrap-token-file', pki.tokenFile]);
  const master = spawnTracked(t, mf, ma, { env });
  await master.waitFor(/sextant master listening on https:/, 60_000);
  const agent = (ns: Netns, ip: string, n: number) => {
    const [f, a] = ns.wrap(process.execPath, [sextantJs, 'agent', '--master', `${mip}:5050`, '--ip', ip, '--hostname', ip, '--work-dir', path.join(work, `agent-${n}`), '--tls-ca', pki.ca, '--bootstrap-token-file', pki.tokenFile, '--kill-tasks-on-exit']);
    return spawnTracked(t, f, a, { env, graceMs: 10_000 });
  };
  const ag1 = agent(a1ns!, a1ip, 1);
  const ag2 = agent(a2ns!, a2ip, 2);
  const id1 = (await ag1.waitFor(/sextant agent (\S+) registered with master .* \(api https:/, 60_000))[1]!;
  const id2 = (await ag2.waitFor(/sextant agent (\S+) registered with master .* \(api https:/, 60_000))[1]!;
  const op = { ca: pki.ca, cert: pki.cli.cert, key: pki.cli.key };
  const state = async () => (await curl(evil!, `https://${mip}:5050/master/state`, { tls: op })).body;
  await eventually(async () => ((await state())?.slaves?.length === 2 ? true : undefined), 30_000, 200, 'both agents verified');

  const cert1 = { ca: pki.ca, cert: path.join(work, 'agent-1/tls/agent.crt'), key: path.join(work, 'agent-1/tls/agent.key') };
  const secret = (n: number) => (JSON.parse(fs.readFileSync(path.join(work, `agent-${n}/agent.json`), 'utf8')) as { secret: string }).secret;
  const foreign = { ca: pki.ca, cert: pki.foreign.cert, key: pki.foreign.key };

  // The operator deploys an app onto agent 2 (the victim).
  const dep = await curl(evil!, `https://${mip}:8080/v2/apps`, { tls: op, body: { id: '/victim', cmd: 'sleep 1000', instances: 1, cpus: 0.1, mem: 16, constraints: [['hostname', 'LIKE', a2ip]] } });
  t.equal(dep.code, 201, 'the operator certificate deploys');
  const taskId = await eventually(async () => {
    const ts = (await state())?.frameworks?.flatMap((f: any) => f.tasks) ?? [];
    return ts.find((x: any) => x.name === 'victim' && x.state === 'TASK_RUNNING')?.id as string | undefined;
  }, 60_000, 250, 'the victim task runs');

  t.test('plain HTTP to every port gets no answer', async (t) => {
    for (const url of [`http://${mip}:5050/master/state`, `http://${mip}:8080/v2/apps`, `http://${a1ip}:5051/state`]) {
      const r = await curl(evil!, url);
      t.not(r.code, 200, `${url}: ${r.code || r.error}`);
    }
  });

  t.test('HTTPS without a client certificate: 401 on :5050, refused at the TLS layer on :8080 and :5051', async (t) => {
    t.match(await curl(evil!, `https://${mip}:5050/master/state`, { tls: { ca: pki.ca } }), { code: 401, body: { reason: 'no_client_certificate' } });
    t.match(await curl(evil!, `https://${mip}:8080/v2/apps`, { tls: { ca: pki.ca } }), { code: 0 }, ':8080');
    t.match(await curl(evil!, `https://${a1ip}:5051/state`, { tls: { ca: pki.ca } }), { code: 0 }, ':5051');
  });

  t.test('a certificate of another CA is refused at the TLS layer everywhere', async (t) => {
    for (const url of [`https://${mip}:5050/master/state`, `https://${mip}:5050${API.register}`, `https://${mip}:8080/v2/apps`, `https://${a1ip}:5051/state`])
      t.match(await curl(evil!, url, { tls: foreign }), { code: 0 }, url);
  });

  t.test('registration: no token, a wrong token, or a stolen token for an existing agent: 401, nothing stored', async (t) => {
    const reg = (extra: Record<string, unknown> = {}) => ({ hostname: 'evil', ip: addrs[3], port: 5051, resources: { cpus: 64, mem: 65536 }, tasks: [], ...extra });
    const url = `https://${mip}:5050${API.register}`;
    t.match(await curl(evil!, url, { tls: { ca: pki.ca }, body: reg() }), { code: 401, body: { reason: 'missing_bootstrap_token' } });
    t.match(await curl(evil!, url, { tls: { ca: pki.ca }, body: reg(), headers: { [BOOTSTRAP_TOKEN_HEADER]: 'f'.repeat(48) } }), { code: 401, body: { reason: 'bad_bootstrap_token' } });
    t.match(await curl(evil!, url, { tls: { ca: pki.ca }, body: reg({ agent_id: id1 }), headers: { [BOOTSTRAP_TOKEN_HEADER]: pki.token, authorization: agentAuthorization(id1, secret(1)) } }), { code: 401, body: { reason: 'missing_credentials' } }, 'the token (and the secret) without the certificate cannot re-register agent 1');
    t.equal((await curl(evil!, `https://${mip}:5050/master/slaves`, { tls: op })).body.slaves.length, 2, 'still two agents, none pending');
  });

  t.test("agent 1's certificate cannot touch agent 2's task or API", async (t) => {
    const upd = (agentId: string) => ({ agent_id: agentId, task_id: taskId, framework_id: '', state: 'TASK_FAILED', timestamp: Date.now() / 1000, uuid: `u-${randomInt(1e9)}`, seq: 100_000 });
    t.match(await curl(evil!, `https://${mip}:5050${API.status}`, { tls: cert1, body: upd(id1), headers: { authorization: agentAuthorization(id1, secret(1)) } }), { code: 403, body: { reason: 'not_task_owner' } });
    t.match(await curl(evil!, `https://${mip}:5050${API.status}`, { tls: cert1, body: upd(id2), headers: { authorization: agentAuthorization(id2, secret(2)) } }), { code: 403, body: { reason: 'agent_mismatch' } }, "even with agent 2's secret");
    t.match(await curl(evil!, `https://${a2ip}:5051${API.kill}`, { tls: cert1, body: { task_id: taskId } }), { code: 403, body: { reason: 'identity_not_allowed' } }, "agent 2's kill");
    const ts = (await state()).frameworks.flatMap((f: any) => f.tasks);
    t.match(ts.find((x: any) => x.id === taskId), { state: 'TASK_RUNNING' }, 'the task still runs');
  });
});
