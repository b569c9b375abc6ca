/**
 * The control plane's :5060 behind mutual TLS, from another host (issue 30): a real `sextant master`
 * and `sextant agent`, each in its own network namespace, with certificates issued by common/pki.ts
 * and handed over SEXTANT_CONTROL_TLS_*; an attacker process in a third namespace on the same bridge.
 * Anonymous, certificate-less and foreign-CA watches fail the handshake; a cluster certificate of
 * another agent is PERMISSION_DENIED with nothing streamed; the real agent converges and gets updates.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, issueCert, type LeafFiles } from '../../common/pki.js';
import { agentUri, masterUri } from '../../control/identity.js';
import type { ProbeCreds, ProbeResult } from '../../control/test/probe.js';
import { bridgeNamespaces, createNetns, eventually, requireNetns, requireTools, spawnTracked, uniqueName, type Netns } from '../lib/index.js';
import { root, sextantJs } from './backbone-lib.js';

t.setTimeout(180_000);
process.env.SEXTANT_LOG_LEVEL ??= 'warn';

const CONTROL_PORT = 5060;

/**
 * The HTTP ports stay plain here (the control plane's TLS comes from SEXTANT_CONTROL_TLS_*): once
 * master and agent require TLS material for their HTTP ports, they take --insecure-dev for that.
 */
const httpPlainFlags = () => (execFileSync(process.execPath, [sextantJs, 'master', '--help'], { encoding: 'utf8' }).includes('--insecure-dev') ? ['--insecure-dev'] : []);
const attackerJs = join(root, 'dist', 'test', 'e2e', 'control-attacker.js');

/** GET (or POST) a URL from inside a namespace; the parsed JSON body, or the text. */
async function httpIn(ns: Netns, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const script = `fetch(${JSON.stringify(url)},{method:${body ? '"POST"' : '"GET"'},headers:{"content-type":"application/json"},${body ? `body:${JSON.stringify(JSON.stringify(body))},` : ''}signal:AbortSignal.timeout(5000)})
    .then(async r=>{const t=await r.text();let b;try{b=JSON.parse(t)}catch{b=t}process.stdout.write(JSON.stringify({status:r.status,body:b}))})`;
  return JSON.parse(await ns.exec(process.execPath, ['-e', script], { timeoutMs: 15_000 }));
}

const tlsEnv = (f: LeafFiles) => ({ SEXTANT_CONTROL_TLS_CA: f.ca, SEXTANT_CONTROL_TLS_CERT: f.cert, SEXTANT_CONTROL_TLS_KEY: f.key });
const tls = (f: LeafFiles): ProbeCreds => ({ kind: 'tls', ca: f.ca, cert: f.cert, key: f.key });

t.test('control plane over mutual TLS between namespaces; an attacker on another host is refused', async (t) => {
  requireNetns();
  requireTools('openssl');
  const httpPlain = httpPlainFlags();
  const dir = mkdtempSync(join(tmpdir(), `${uniqueName('ctls')}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [mns, ans, xns] = [await createNetns(t, 'ctm'), await createNetns(t, 'cta'), await createNetns(t, 'ctx')];
  const { addrs } = await bridgeNamespaces(t, [mns, ans, xns], '10.96.0');
  const [mip, aip] = [addrs[0]!, addrs[1]!];

  const ca = await ensureCa(join(dir, 'ca'));
  const rogue = await ensureCa(join(dir, 'rogue'), 'Not the cluster CA');
  const certs = join(dir, 'certs');
  const masterCert = await issueCert(ca, certs, 'master', { cn: mip, usage: 'both', ips: [mip], uris: [masterUri(mip)] });

  const baseEnv = { ...process.env, SEXTANT_LOG_LEVEL: 'info', SEXTANT_CONTROL_PORT: String(CONTROL_PORT) };
  const [mcmd, margs] = mns.wrap(process.execPath, [sextantJs, 'master', '--ip', mip, '--work-dir', join(dir, 'master'), ...httpPlain]);
  const master = spawnTracked(t, mcmd, margs, { env: { ...baseEnv, SEXTANT_MASTER_SERVICES: 'control', ...tlsEnv(masterCert) } });
  await master.waitFor(/sextant master listening/, 60_000);
  await master.waitFor(/"event":"listening".*"tls":true/, 30_000);

  // The agent id comes from registration: register once without services, then restart with the
  // certificate issued for that id (the agent keeps its id across restarts, as a Mesos agent does).
  const agentArgs = ['agent', '--master', `${mip}:5050`, '--ip', aip, '--work-dir', join(dir, 'agent'), '--kill-tasks-on-exit', ...httpPlain];
  const [acmd, aargs] = ans.wrap(process.execPath, [sextantJs, ...agentArgs]);
  const first = spawnTracked(t, acmd, aargs, { env: { ...baseEnv, SEXTANT_NODE_SERVICES: '' } });
  const agentId = (await first.waitFor(/sextant agent (\S+) registered/, 60_000))[1]!;
  first.kill('SIGTERM');
  await first.exited;
  const agentCert = await issueCert(ca, certs, 'agent', { cn: agentId, usage: 'both', uris: [agentUri(agentId)] });
  const agent = spawnTracked(t, acmd, aargs, { env: { ...baseEnv, SEXTANT_NODE_SERVICES: 'control', ...tlsEnv(agentCert) } });
  t.equal((await agent.waitFor(/sextant agent (\S+) registered/, 60_000))[1], agentId, 'the agent kept its id');

  const converged = async (what: string, after = 0) =>
    eventually(
      async () => {
        const st = (await httpIn(ans, `http://${aip}:5051/v1/control/state`)).body;
        const m = (await httpIn(mns, `http://${mip}:5050/v1/control/agents`)).body;
        const a = m.agents?.find((x: any) => x.agent_id === agentId);
        return st.connected && st.applied === m.version && m.version > after && a?.lag === 0 ? { version: m.version as number, state: st } : undefined;
      },
      60_000,
      250,
      what,
    );
  const v1 = await converged('the agent converges over mutual TLS');
  t.ok(v1.version >= 1, `agent ${agentId} applied version ${v1.version} over TLS`);

  // The attacker, on a third host: every way in it has.
  const otherAgent = await issueCert(ca, certs, 'other-agent', { cn: 'S-other', usage: 'both', uris: [agentUri('S-other')] });
  const intruder = { ...(await issueCert(rogue, certs, 'intruder', { cn: agentId, usage: 'both', uris: [agentUri(agentId)] })), ca: ca.cert };
  const cases = [
    { name: 'anonymous plaintext watch as the real agent', creds: { kind: 'plaintext' }, agentId },
    { name: 'TLS without a client certificate', creds: { kind: 'tls', ca: ca.cert }, agentId },
    { name: "another CA's certificate claiming the agent", creds: tls(intruder), agentId },
    { name: "another agent's cluster certificate watching as the agent", creds: tls(otherAgent), agentId },
    { name: 'a valid certificate of an agent the master does not know', creds: tls(otherAgent), agentId: 'S-other' },
  ];
  const [xcmd, xargs] = xns.wrap(process.execPath, [attackerJs, JSON.stringify({ target: `${mip}:${CONTROL_PORT}`, cases })]);
  const attacker = spawnTracked(t, xcmd, xargs);
  t.equal(await attacker.exited, 0, 'the attacker process ran');
  const results = JSON.parse(attacker.output().trim().split('\n').at(-1)!) as (ProbeResult & { name: string })[];
  const got = Object.fromEntries(results.map((r) => [r.name, [r.code, r.updates]]));
  t.same(got, {
    [cases[0]!.name]: ['UNAVAILABLE', 0],
    [cases[1]!.name]: ['UNAVAILABLE', 0],
    [cases[2]!.name]: ['UNAVAILABLE', 0],
    [cases[3]!.name]: ['PERMISSION_DENIED', 0],
    [cases[4]!.name]: ['NOT_FOUND', 0],
  }, 'each refused, nothing streamed');
  t.match(results[3]!.details, `hello.agent_id '${agentId}' is not the certificate's agent 'S-other'`, 'the refusal names why');

  const metrics = (await httpIn(mns, `http://${mip}:5050/metrics`)).body as string;
  t.match(metrics, /sextant_control_refused_total\{reason="identity_mismatch"\} 1/, 'the refusal is counted');
  t.match(master.output(), /"event":"stream_refused".*"reason":"identity_mismatch"/, 'and logged');

  // Updates still arrive on the real agent's stream: a task changes the zones.
  const app = { id: '/ctls', cmd: 'sleep 300', instances: 1, cpus: 0.1, mem: 16 };
  t.equal((await httpIn(mns, `http://${mip}:8080/v2/apps`, app)).status, 201, 'app created');
  const v2 = await converged('the agent applies the next versions', v1.version);
  t.ok(v2.version > v1.version, `the agent applied version ${v2.version} after ${v1.version}`);
  const status = (await httpIn(mns, `http://${mip}:5050/v1/control/agents`)).body;
  t.same(status.agents.map((a: any) => a.agent_id), [agentId], 'only the real agent is in the table');

  agent.kill('SIGTERM');
  await agent.exited;
});
