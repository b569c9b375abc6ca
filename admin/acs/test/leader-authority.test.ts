/**
 * A follower's Authority (leader-authority.ts) against real https servers under mutual TLS: its own
 * Mesos port answers 307 to the leader, whose whoami says who a token is and what it holds. The
 * answer maps to an identity and permissions; 401 codes map to the reasons; a missing or malformed
 * credential is refused without a call; a redirect to a server that is not a master is refused.
 */
import t from 'tap';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { identityUri, issueCert, loadTls, tlsDirPaths, type TlsMaterial } from '../../../common/index.js';
import { loopbackBlock, makeTestPki, requireTools } from '../../../test/lib/index.js';
import { LeaderAuthority } from '../leader-authority.js';

requireTools('openssl');

async function listen(host: string, tls: TlsMaterial, fn: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<{ port: number; close(): void }> {
  const s = https.createServer({ ...tls, requestCert: true, rejectUnauthorized: true }, fn);
  await new Promise<void>((r) => s.listen(0, host, r));
  return { port: (s.address() as AddressInfo).port, close: () => s.close() };
}

t.test('a follower asks the leader who a token is', async (t) => {
  const ip = loopbackBlock();
  const pki = await makeTestPki(t);
  const leaderTls = loadTls(tlsDirPaths(await pki.masterDir(ip(1))));
  const followerTls = loadTls(tlsDirPaths(await pki.masterDir(ip(2))));
  let calls = 0;
  const callers: string[] = [];
  const leader = await listen(ip(1), leaderTls, (req, res) => {
    calls++;
    callers.push(String((req.socket as import('node:tls').TLSSocket).getPeerCertificate().subjectaltname));
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url !== '/acs/api/v1/auth/whoami') return send(404, {});
    if (req.headers.authorization === 'token=good') return send(200, { uid: 'alice', kind: 'user', superuser: false, permissions: [{ rid: 'dcos:adminrouter:ops:networks', actions: ['read'] }, { rid: 'dcos:service:marathon:marathon:services:/prod', actions: ['full'] }] });
    if (req.headers.authorization === 'token=root') return send(200, { uid: 'admin', kind: 'user', superuser: true, permissions: [] });
    if (req.headers.authorization === 'token=old') return send(401, { title: 'Unauthorized', code: 'ERR_EXPIRED_AUTH_TOKEN', description: 'the token expired' });
    return send(401, { title: 'Unauthorized', code: 'ERR_INVALID_AUTH_TOKEN', description: 'signature verification failed' });
  });
  t.teardown(() => leader.close());
  let target = `https://${ip(1)}:${leader.port}`;
  const own = await listen(ip(2), followerTls, (req, res) => res.writeHead(307, { location: `${target}${req.url}` }).end());
  t.teardown(() => own.close());
  const a = new LeaderAuthority({ ip: ip(2), port: own.port, tls: followerTls });

  const ok = await a.authenticate({ authorization: 'token=good' });
  t.same(ok, { ok: true, identity: { uid: 'alice', kind: 'user', superuser: false } }, 'the identity whoami names');
  t.match(callers[0], `URI:${identityUri('master', ip(2))}`, "the follower presents its master's certificate to the leader");
  if (!ok.ok) return;
  t.equal(await a.authorize(ok.identity, { resource: 'dcos:adminrouter:ops:networks', action: 'read' }), true, 'a granted action');
  t.equal(await a.authorize(ok.identity, { resource: 'dcos:adminrouter:ops:networks', action: 'update' }), false, 'an action not granted');
  t.equal(await a.authorize(ok.identity, { resource: 'dcos:service:marathon:marathon:services:/prod/web', action: 'delete' }), true, 'a covering resource with full');
  t.equal(await a.authorize(ok.identity, { resource: 'dcos:adminrouter:ops:nodes', action: 'read' }), false, 'another resource');
  const root = await a.authenticate({ authorization: 'Bearer root' });
  t.match(root, { ok: true, identity: { uid: 'admin', superuser: true } }, 'Bearer is sent on as token=');
  if (root.ok) t.equal(await a.authorize(root.identity, { resource: 'dcos:adminrouter:ops:nodes', action: 'delete' }), true, 'a superuser holds everything');

  t.match(await a.authenticate({ authorization: 'token=old' }), { ok: false, reason: 'expired', message: 'the token expired' }, '401 codes map back to their reasons');
  t.match(await a.authenticate({ authorization: 'token=forged' }), { ok: false, reason: 'bad-signature' });
  const before = calls;
  t.match(await a.authenticate({}), { ok: false, reason: 'missing' }, 'no credential');
  t.match(await a.authenticate({ authorization: 'Basic eDp5' }), { ok: false, reason: 'malformed' }, 'a malformed header');
  t.equal(calls, before, 'neither was sent to the leader');

  // A redirect to a server of the cluster CA that is not a master (an agent's certificate) is not believed.
  const d = path.join(pki.dir, 'impostor');
  const leaf = await issueCert({ cert: pki.ca, key: pki.caKey }, d, 'node', { cn: 'agent', usage: 'both', ips: [ip(3)], uris: [identityUri('agent', 'x-S9')] });
  const impostor = await listen(ip(3), { ca: fs.readFileSync(pki.ca), cert: fs.readFileSync(leaf.cert), key: fs.readFileSync(leaf.key) }, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ uid: 'admin', superuser: true })));
  t.teardown(() => impostor.close());
  target = `https://${ip(3)}:${impostor.port}`;
  await t.rejects(a.authenticate({ authorization: 'token=anything' }), /presented no master's certificate/, 'an impostor leader is refused');

  leader.close();
  target = `https://${ip(1)}:${leader.port}`;
  await t.rejects(a.authenticate({ authorization: 'token=good' }), 'no leader answering: an error, never an identity');
});
