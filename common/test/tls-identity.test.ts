/** Cluster identities from URI SANs, and the mutual-TLS HTTP server (common/http.ts serve + tls) with real certificates from the cluster PKI. */
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ensureCa, issueCert } from '../pki.js';
import { Router, requestJson, serve } from '../http.js';
import { identityFromSan, identityUri, parseIdentityUri, peerIdentity } from '../tls-identity.js';
import { loadTls, tlsPathsFromFlags } from '../tls-files.js';
import { requireTools } from '../../test/lib/index.js';

requireTools('openssl');

t.test('identity URIs: the five kinds, ids where they belong, nothing else', async (t) => {
  t.same(parseIdentityUri('spiffe://sextant/agent/M-S1'), { kind: 'agent', id: 'M-S1', uri: 'spiffe://sextant/agent/M-S1' });
  t.same(parseIdentityUri('spiffe://sextant/master/10.0.0.1'), { kind: 'master', id: '10.0.0.1', uri: 'spiffe://sextant/master/10.0.0.1' });
  t.same(parseIdentityUri('spiffe://sextant/entry'), { kind: 'entry', uri: 'spiffe://sextant/entry' });
  t.same(parseIdentityUri('spiffe://sextant/cli'), { kind: 'cli', uri: 'spiffe://sextant/cli' });
  t.same(parseIdentityUri('spiffe://sextant/mesos-dns'), { kind: 'mesos-dns', uri: 'spiffe://sextant/mesos-dns' });
  for (const bad of ['spiffe://sextant/agent', 'spiffe://sextant/entry/x', 'spiffe://other/agent/S1', 'spiffe://sextant/root', 'spiffe://sextant/agent/a/b', 'https://sextant/agent/S1', 'spiffe://sextant/agent/S1 '])
    t.equal(parseIdentityUri(bad), undefined, `${bad} is no identity`);
  t.equal(identityUri('agent', 'S1'), 'spiffe://sextant/agent/S1');
  t.throws(() => identityUri('agent'), /needs id/);
  t.throws(() => identityUri('cli', 'x'), /takes no id/);
  t.throws(() => identityUri('agent', 'a/b'), /not a usable/);
  t.same(identityFromSan('IP Address:127.0.0.1, URI:spiffe://sextant/agent/S7'), { kind: 'agent', id: 'S7', uri: 'spiffe://sextant/agent/S7' });
  t.equal(identityFromSan('IP Address:127.0.0.1, DNS:localhost'), undefined, 'no URI SAN: no identity');
  t.equal(identityFromSan('URI:spiffe://sextant/agent/S1, URI:spiffe://sextant/agent/S2'), undefined, 'two identities: ambiguous, none');
  t.equal(identityFromSan(undefined), undefined);
  t.same(peerIdentity(new (await import('node:net')).Socket()), { ok: false, reason: 'plain_connection', why: 'not a TLS connection' });
});

t.test('TLS flags: a dir or the three files, mixed or partial is an error naming the flag', async (t) => {
  t.same(tlsPathsFromFlags({ 'tls-dir': '/d' }), { ca: '/d/ca.crt', cert: '/d/node.crt', key: '/d/node.key' });
  t.same(tlsPathsFromFlags({ 'tls-dir': '/nonexistent-dir' }, true), { ca: '/nonexistent-dir/ca.crt' }, 'an agent dir without its certificate: CA only (bootstrap)');
  t.equal(tlsPathsFromFlags({}), undefined);
  t.throws(() => tlsPathsFromFlags({ 'tls-dir': '/d', 'tls-ca': '/c' }), /--tls-dir.*one or the other/);
  t.throws(() => tlsPathsFromFlags({ 'tls-cert': '/c', 'tls-key': '/k' }), /--tls-ca/);
  t.throws(() => tlsPathsFromFlags({ 'tls-ca': '/c', 'tls-cert': '/c' }), /--tls-key/);
  t.throws(() => tlsPathsFromFlags({ 'tls-ca': '/c' }), /--tls-cert/);
  t.same(tlsPathsFromFlags({ 'tls-ca': '/c' }, true), { ca: '/c' });
  t.throws(() => loadTls({ ca: '/nonexistent/ca.crt', cert: '/x', key: '/y' }), /--tls-ca.*\/nonexistent\/ca\.crt/);
});

t.test('mutual TLS server: public routes without a certificate, every other route needs the cluster CA', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-tlsid-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ca = await ensureCa(path.join(dir, 'ca'));
  const other = await ensureCa(path.join(dir, 'other'), 'Another CA');
  const srv = await issueCert(ca, dir, 'srv', { cn: 'master', usage: 'both', ips: ['127.0.0.1'], uris: [identityUri('master', '127.0.0.1')] });
  const agent = await issueCert(ca, dir, 'agent', { cn: 'agent-S1', usage: 'client', uris: [identityUri('agent', 'S1')] });
  const plain = await issueCert(ca, dir, 'plain', { cn: 'nobody', usage: 'client' });
  const foreign = await issueCert(other, dir, 'foreign', { cn: 'agent-S1', usage: 'client', uris: [identityUri('agent', 'S1')] });
  const material = loadTls(srv);
  const router = new Router()
    .post('/register', () => ({ json: { public: true } }))
    .get('/who', (req) => {
      const p = peerIdentity(req.raw.socket);
      return { json: p.ok ? p.identity : { none: p.reason } };
    });
  const refused: string[] = [];
  const s = await serve(router, { host: '127.0.0.1', port: 0, tls: { material, isPublic: (m, p) => m === 'POST' && p === '/register', onRefused: (r) => refused.push(r) } });
  t.teardown(() => s.close());
  const base = `https://127.0.0.1:${s.address().port}`;
  const ca0 = fs.readFileSync(ca.cert);
  const as = (f?: { cert: string; key: string }) => ({ ca: ca0, ...(f ? { cert: fs.readFileSync(f.cert), key: fs.readFileSync(f.key) } : {}) });

  t.same((await requestJson(`${base}/register`, { body: {}, tls: as() })).body, { public: true }, 'the public route answers without a certificate');
  const r = await requestJson(`${base}/who`, { tls: as() });
  t.equal(r.status, 401, 'another route without a certificate: 401');
  t.match(r.body, { reason: 'no_client_certificate', message: /\/who needs a client certificate of the cluster CA/ });
  t.same(refused, ['no_client_certificate'], 'the refusal is reported');
  t.same((await requestJson(`${base}/who`, { tls: as(agent) })).body, { kind: 'agent', id: 'S1', uri: 'spiffe://sextant/agent/S1' }, 'the verified identity reaches the handler');
  t.match(await requestJson(`${base}/who`, { tls: as(plain) }), { status: 401, body: { reason: 'no_identity' } }, 'a CA certificate without a cluster identity is refused: it names nobody');
  await t.rejects(requestJson(`${base}/who`, { tls: as(foreign) }), 'a certificate of another CA: refused at the TLS layer');
  await t.rejects(requestJson(`${base}/register`, { body: {}, tls: as(foreign) }), 'even on the public route');
  const plainHttp = await new Promise<string>((resolve) => {
    const req = http.get(`http://127.0.0.1:${s.address().port}/who`, (res) => resolve(`status ${res.statusCode}`));
    req.on('error', (e) => resolve(`error ${e.message}`));
  });
  t.notMatch(plainHttp, /status 200/, `plain HTTP gets nothing (${plainHttp})`);
  await t.rejects(requestJson(`${base}/who`, { tls: { ca: fs.readFileSync(other.cert) } }), 'a client that trusts another CA does not trust the server');

  const strict = await serve(router, { host: '127.0.0.1', port: 0, tls: { material } });
  t.teardown(() => strict.close());
  const sbase = `https://127.0.0.1:${strict.address().port}`;
  await t.rejects(requestJson(`${sbase}/register`, { body: {}, tls: as() }), 'without public routes the TLS layer requires a certificate');
  t.equal((await requestJson(`${sbase}/who`, { tls: as(agent) })).status, 200, 'and accepts the cluster CA\'s');
  t.equal((await requestJson(`${sbase}/who`, { tls: as(plain) })).status, 401, 'one without an identity: 401');
});
