/**
 * Mutual TLS with the cluster CA (certificates issued by common/pki.ts, i.e. openssl) and the
 * per-agent identity on every stream, from the attacker's side: raw watches (another process would
 * do the same; the network-namespace version is test/e2e/control-mtls-netns.test.ts).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, issueCert, type LeafFiles } from '../../common/pki.js';
import { createRegistry, type Registry } from '../../common/metrics.js';
import { eventually, requireTools } from '../../test/lib/index.js';
import { agentUri, masterUri } from '../identity.js';
import { clientReaches, RecordingConsumer, serverSees, SettableSource, startClient, startServer, vip } from './helpers.js';
import { probeWatch, type ProbeCreds } from './probe.js';

const HOST = '127.0.0.1';

async function makeCerts(dir: string) {
  const ca = await ensureCa(join(dir, 'ca'));
  const rogue = await ensureCa(join(dir, 'rogue'), 'Some other CA');
  const out = join(dir, 'certs');
  return {
    master: await issueCert(ca, out, 'master', { cn: 'master', usage: 'both', ips: [HOST], uris: [masterUri(HOST)] }),
    a1: await issueCert(ca, out, 'a1', { cn: 'agent a1', usage: 'both', uris: [agentUri('a1')] }),
    a2: await issueCert(ca, out, 'a2', { cn: 'agent a2', usage: 'both', uris: [agentUri('a2')] }),
    noid: await issueCert(ca, out, 'noid', { cn: 'operator', usage: 'client' }),
    twoIds: await issueCert(ca, out, 'two', { cn: 'two', usage: 'client', uris: [agentUri('a1'), agentUri('a2')] }),
    // Another CA's certificate that claims to be agent a1.
    intruder: { ...(await issueCert(rogue, out, 'intruder', { cn: 'agent a1', usage: 'both', uris: [agentUri('a1')] })), ca: ca.cert },
  };
}

async function refusals(registry: Registry): Promise<Record<string, number>> {
  return Object.fromEntries((await registry.getSingleMetric('sextant_control_refused_total')!.get()).values.map((v) => [String(v.labels.reason), v.value]));
}

const tls = (f: LeafFiles): ProbeCreds => ({ kind: 'tls', ca: f.ca, cert: f.cert, key: f.key });

t.test('mutual TLS and per-agent identity on the control port', async (t) => {
  requireTools('openssl');
  const dir = mkdtempSync(join(tmpdir(), 'sx-control-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const certs = await makeCerts(dir);
  const registry = createRegistry();
  const vips = new SettableSource('vips', [vip('web', '11.0.0.1', [['10.0.0.1', 80]])]);
  const server = await startServer(t, { tls: certs.master, registry, sources: [vips] });
  const addr = `${HOST}:${server.port}`;
  const good = await startClient(t, { agentId: 'a1', masters: [addr], tls: certs.a1, consumers: [new RecordingConsumer('l4lb', ['vips'])] });
  await clientReaches(good, (s) => s.applied === 1, 'the TLS agent a1 converges');

  // Refused before any RPC: the TLS handshake fails (grpc-js never sees the connection), counted by reason.
  const handshake: [string, ProbeCreds, string][] = [
    ['anonymous plaintext watch with a known agent id', { kind: 'plaintext' }, 'tls_handshake_plaintext'],
    ['TLS without a client certificate', { kind: 'tls', ca: certs.a1.ca }, 'tls_handshake_no_certificate'],
    ["a certificate from another CA claiming agent a1", tls(certs.intruder), 'tls_handshake_unknown_ca'],
  ];
  const counted: Record<string, number> = {};
  for (const [name, creds, reason] of handshake) {
    const r = await probeWatch(addr, creds, 'a1');
    t.same([r.code, r.updates], ['UNAVAILABLE', 0], `${name}: refused, nothing streamed (${r.details})`);
    counted[reason] = 1;
    // The server sees the failure when the socket closes, which may come just after the client's error.
    const now = await eventually(async () => {
      const m = await refusals(registry);
      return (m[reason] ?? 0) >= 1 && m;
    }, 5000, 20, `sextant_control_refused_total{reason="${reason}"}`);
    t.same(now, counted, `${name}: counted as ${reason}, and nothing else`);
  }

  // Refused by identity: the call reaches the server, which answers with a status naming why.
  const denied: [string, ProbeCreds, string, string, RegExp][] = [
    ["agent a2's certificate watching as a1", tls(certs.a2), 'a1', 'PERMISSION_DENIED', /hello\.agent_id 'a1' is not the certificate's agent 'a2'/],
    ["a master's certificate", tls(certs.master), 'a1', 'PERMISSION_DENIED', /master's certificate; only agents watch/],
    ['a cluster-CA certificate without an identity', tls(certs.noid), 'a1', 'UNAUTHENTICATED', /no spiffe:\/\/sextant\/ URI SAN/],
    ['a certificate naming two agents', tls(certs.twoIds), 'a1', 'UNAUTHENTICATED', /names 2 identities/],
  ];
  for (const [name, creds, as, code, why] of denied) {
    const r = await probeWatch(addr, creds, as);
    t.same([r.code, r.updates], [code, 0], `${name}: ${code}, nothing streamed`);
    t.match(r.details, why, `${name}: the status says why`);
  }
  t.same([good.state().connected, good.state().broken], [true, 0], "a1's own stream was not replaced by the impostor");

  // A valid agent certificate: the snapshot streams and updates arrive.
  const watching = probeWatch(addr, tls(certs.a2), 'a2', { updates: 2 });
  await serverSees(server, (st) => st.agents.some((a) => a.agent_id === 'a2' && a.connected), 'a2 watching');
  vips.set([vip('web', '11.0.0.1', [['10.0.0.1', 80], ['10.0.0.2', 80]])]);
  const ok = await watching;
  t.same([ok.code, ok.updates, ok.entries.vips], ['OK', 2, 2], 'a2 as itself: the snapshot, then the update');

  t.same(server.status().agents.map((a) => a.agent_id).sort(), ['a1', 'a2'], 'refused streams leave no trace in the agent table');
  t.same(await refusals(registry), { ...counted, identity_mismatch: 1, not_agent: 1, no_identity: 2 }, 'sextant_control_refused_total by reason');
});

t.test('without tls: plaintext, no identity (insecure development mode)', async (t) => {
  const server = await startServer(t, { sources: [new SettableSource('vips', [])] });
  const r = await probeWatch(`${HOST}:${server.port}`, { kind: 'plaintext' }, 'anyone');
  t.same([r.code, r.updates], ['OK', 1], 'anyone may watch: this is what --insecure-dev chooses');
});

t.test('the control port never listens on a wildcard address', async (t) => {
  for (const host of ['0.0.0.0', '::', '0:0::0', '[::]']) await t.rejects(startServer(t, { host }), /is a wildcard: the control plane listens on the master's internal address or loopback only/, host);
});
