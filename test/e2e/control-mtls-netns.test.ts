/**
 * The control plane's :5060 behind mutual TLS, from another host (issue 30): a real `sextant master`
 * (`--tls-dir`: its certificate from the cluster CA) and a real `sextant agent` (its certificate from
 * the TLS bootstrap at registration), each in its own network namespace; the control plane takes
 * their certificates from the node (`nodeTls`). An attacker process in a third namespace on the same
 * bridge: anonymous, certificate-less and foreign-CA watches fail the handshake (counted on the master by
 * reason: tls_handshake_plaintext, _no_certificate, _unknown_ca); a cluster certificate
 * of another agent is PERMISSION_DENIED with nothing streamed; the real agent converges and gets updates.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCert, type LeafFiles } from '../../common/pki.js';
import { agentUri } from '../../control/identity.js';
import type { ProbeCreds, ProbeResult } from '../../control/test/probe.js';
import { bridgeNamespaces, createNetns, eventually, makeTestPki, requireNetns, requireTools, spawnTracked, uniqueName, type Netns } from '../lib/index.js';
import { root, sextantJs } from './backbone-lib.js';

t.setTimeout(180_000);
process.env.SEXTANT_LOG_LEVEL ??= 'warn';

const CONTROL_PORT = 5060;
const attackerJs = join(root, 'dist', 'test', 'e2e', 'control-attacker.js');

/** An HTTPS request from inside a namespace with a client certificate; the status and parsed JSON body (or the text). */
async function httpsIn(ns: Netns, tls: LeafFiles, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const script = `const https=require('node:https'),fs=require('node:fs');
    const req=https.request(${JSON.stringify(url)},{method:${body ? '"POST"' : '"GET"'},ca:fs.readFileSync(${JSON.stringify(tls.ca)}),cert:fs.readFileSync(${JSON.stringify(tls.cert)}),key:fs.readFileSync(${JSON.stringify(tls.key)}),headers:{"content-type":"application/json"},timeout:5000},res=>{
      let t='';res.on('data',d=>t+=d);res.on('end',()=>{let b;try{b=JSON.parse(t)}catch{b=t}process.stdout.write(JSON.stringify({status:res.statusCode,body:b}))})});
    req.on('timeout',()=>req.destroy(new Error('timeout')));req.on('error',e=>{process.stderr.write(String(e));process.exit(1)});req.end(${body ? JSON.stringify(JSON.stringify(body)) : ''});`;
  return JSON.parse(await ns.exec(process.execPath, ['-e', script], { timeoutMs: 15_000 }));
}

const tls = (f: LeafFiles): ProbeCreds => ({ kind: 'tls', ca: f.ca, cert: f.cert, key: f.key });

t.test('control plane over mutual TLS between namespaces; an attacker on another host is refused', async (t) => {
  requireNetns();
  requireTools('openssl');
  const dir = mkdtempSync(join(tmpdir(), `${uniqueName('ctls')}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [mns, ans, xns] = [await createNetns(t, 'ctm'), await createNetns(t, 'cta'), await createNetns(t, 'ctx')];
  const { addrs } = await bridgeNamespaces(t, [mns, ans, xns], '10.96.0');
  const [mip, aip] = [addrs[0]!, addrs[1]!];

  const pki = await makeTestPki(t);
  const ca = { cert: pki.ca, key: pki.caKey };
  const cli = pki.cli;
  const baseEnv = { ...process.env, SEXTANT_LOG_LEVEL: 'info', SEXTANT_CONTROL_PORT: String(CONTROL_PORT) };
  const tlsDir = await pki.masterDir(mip);
  const [mcmd, margs] = mns.wrap(process.execPath, [sextantJs, 'master', '--ip', mip, '--work-dir', join(dir, 'master'), '--tls-dir', tlsDir, '--bootstrap-token-file', pki.tokenFile]);
  const master = spawnTracked(t, mcmd, margs, { env: { ...baseEnv, SEXTANT_MASTER_SERVICES: 'control' } });
  await master.waitFor(/sextant master listening on https/, 60_000);
  await master.waitFor(/"event":"listening".*"tls":true/, 30_000);

  const [acmd, aargs] = ans.wrap(process.execPath, [sextantJs, 'agent', '--master', `${mip}:5050`, '--ip', aip, '--work-dir', join(dir, 'agent'), '--kill-tasks-on-exit', '--tls-ca', pki.ca, '--bootstrap-token-file', pki.tokenFile]);
  const agent = spawnTracked(t, acmd, aargs, { env: { ...baseEnv, SEXTANT_NODE_SERVICES: 'control' } });
  const agentId = (await agent.waitFor(/sextant agent (\S+) registered/, 60_000))[1]!;

  const converged = async (what: string, after = 0) =>
    eventually(
      async () => {
        const st = (await httpsIn(ans, cli, `https://${aip}:5051/v1/control/state`)).body;
        const m = (await httpsIn(mns, cli, `https://${mip}:5050/v1/control/agents`)).body;
        const a = m.agents?.find((x: any) => x.agent_id === agentId);
        return st.connected && st.applied === m.version && m.version > after && a?.lag === 0 ? { version: m.version as number } : undefined;
      },
      60_000,
      250,
      what,
    );
  const v1 = await converged('the agent converges over mutual TLS');
  t.ok(v1.version >= 1, `agent ${agentId} applied version ${v1.version} with its bootstrapped certificate`);

  // The attacker, on a third host: every way in it has.
  const otherAgent = await issueCert(ca, join(dir, 'certs'), 'other-agent', { cn: 'S-other', usage: 'both', uris: [agentUri('S-other')] });
  const intruder = { ...(await issueCert({ cert: pki.foreign.ca, key: pki.foreign.ca.replace(/\.crt$/, '.key') }, join(dir, 'certs'), 'intruder', { cn: agentId, usage: 'both', uris: [agentUri(agentId)] })), ca: pki.ca };
  const cases = [
    { name: 'anonymous plaintext watch as the real agent', creds: { kind: 'plaintext' }, agentId },
    { name: 'TLS without a client certificate', creds: { kind: 'tls', ca: pki.ca }, agentId },
    { name: "another CA's certificate claiming the agent", creds: tls(intruder), agentId },
    { name: "another agent's cluster certificate watching as the agent", creds: tls(otherAgent), agentId },
    { name: "the operator's (cli) certificate", creds: tls(cli), agentId },
    { name: 'a valid certificate of an agent the master does not know', creds: tls(otherAgent), agentId: 'S-other' },
  ];
  const attack = async (some: typeof cases) => {
    const [xcmd, xargs] = xns.wrap(process.execPath, [attackerJs, JSON.stringify({ target: `${mip}:${CONTROL_PORT}`, cases: some })]);
    const attacker = spawnTracked(t, xcmd, xargs);
    t.equal(await attacker.exited, 0, 'the attacker process ran');
    return JSON.parse(attacker.output().trim().split('\n').at(-1)!) as (ProbeResult & { name: string })[];
  };
  const handshakeRefusals = async () => {
    const text = (await httpsIn(mns, cli, `https://${mip}:5050/metrics`)).body as string;
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^sextant_control_refused_total\{reason="(tls_handshake_[a-z_]+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
    return out;
  };
  // The handshake failures, one attacker run each: the master counts each with its reason, and nothing else.
  const results: (ProbeResult & { name: string })[] = [];
  const reasons = ['tls_handshake_plaintext', 'tls_handshake_no_certificate', 'tls_handshake_unknown_ca'];
  const counted: Record<string, number> = {};
  for (const [i, reason] of reasons.entries()) {
    results.push(...(await attack([cases[i]!])));
    counted[reason] = 1;
    const now = await eventually(async () => {
      const m = await handshakeRefusals();
      return (m[reason] ?? 0) >= 1 && m;
    }, 15_000, 100, `sextant_control_refused_total{reason="${reason}"} on the master`);
    t.same(now, counted, `${cases[i]!.name}: counted as ${reason}, and nothing else`);
  }
  t.match(master.output(), /"event":"tls_handshake_failed".*"reason":"tls_handshake_unknown_ca".*"peer":"10\.96\.0\./, "the failed handshake is logged with the attacker's address");
  results.push(...(await attack(cases.slice(reasons.length))));
  const got = Object.fromEntries(results.map((r) => [r.name, [r.code, r.updates]]));
  t.same(got, {
    [cases[0]!.name]: ['UNAVAILABLE', 0],
    [cases[1]!.name]: ['UNAVAILABLE', 0],
    [cases[2]!.name]: ['UNAVAILABLE', 0],
    [cases[3]!.name]: ['PERMISSION_DENIED', 0],
    [cases[4]!.name]: ['PERMISSION_DENIED', 0],
    [cases[5]!.name]: ['NOT_FOUND', 0],
  }, 'each refused, nothing streamed');
  t.match(results[3]!.details, `hello.agent_id '${agentId}' is not the certificate's agent 'S-other'`, 'the refusal names why');

  const metrics = (await httpsIn(mns, cli, `https://${mip}:5050/metrics`)).body as string;
  t.match(metrics, /sextant_control_refused_total\{reason="identity_mismatch"\} 1/, 'the refusal is counted');
  t.match(metrics, /sextant_control_refused_total\{reason="not_agent"\} 1/, 'and the non-agent');
  t.match(master.output(), /"event":"stream_refused".*"reason":"identity_mismatch"/, 'and logged');

  // Updates still arrive on the real agent's stream: a task changes the zones.
  const app = { id: '/ctls', cmd: 'sleep 300', instances: 1, cpus: 0.1, mem: 16 };
  t.equal((await httpsIn(mns, cli, `https://${mip}:8080/v2/apps`, app)).status, 201, 'app created');
  const v2 = await converged('the agent applies the next versions', v1.version);
  t.ok(v2.version > v1.version, `the agent applied version ${v2.version} after ${v1.version}`);
  const status = (await httpsIn(mns, cli, `https://${mip}:5050/v1/control/agents`)).body;
  t.same(status.agents.map((a: any) => a.agent_id), [agentId], 'only the real agent is in the table');

  // Health units and the CLI over TLS.
  const unit = async (ns: Netns, url: string) => ((await httpsIn(ns, cli, url)).body.units as any[]).find((u) => u.id === 'sextant-control');
  t.match(await unit(ans, `https://${aip}:5051/system/health/v1`), { health: 1, output: /connected to .*; version \d+ applied/ }, "the agent's sextant-control unit is healthy");
  t.match(await unit(mns, `https://${mip}:5050/system/health/v1`), { health: 1, output: /mutual TLS, per-agent identity/ }, "the master's unit says mutual TLS");
  const cliArgs = [sextantJs, 'control', 'status', '--master', `https://${mip}:5050`, '--ca', pki.ca, '--cert', cli.cert, '--key', cli.key];
  t.match(await mns.exec(process.execPath, cliArgs), /1\/1 agents converged/, 'sextant control status with the operator certificate');

  agent.kill('SIGTERM');
  await agent.exited;
});
