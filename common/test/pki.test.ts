/** The cluster PKI with the real openssl: a CA, server and client leaves that real TLS peers accept, key modes, bad input. */
import t from 'tap';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { ensureCa, extensions, issueCert } from '../pki.js';
import { requireTools } from '../../test/lib/index.js';

requireTools('openssl');

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-pki-test-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('CA: created once with 0600 key, reused afterwards', async (t) => {
  const dir = path.join(tmp(t), 'pki');
  const ca = await ensureCa(dir);
  t.equal(fs.statSync(ca.key).mode & 0o777, 0o600, 'CA key is 0600');
  t.equal(fs.statSync(dir).mode & 0o777, 0o700, 'CA dir is 0700');
  const x = new X509Certificate(fs.readFileSync(ca.cert));
  t.ok(x.ca, 'the CA certificate is a CA');
  t.match(x.subject, /CN=Sextant cluster CA/);
  const before = fs.readFileSync(ca.cert, 'utf8');
  await ensureCa(dir);
  t.equal(fs.readFileSync(ca.cert, 'utf8'), before, 'an existing CA is reused untouched');
  fs.rmSync(ca.key);
  await t.rejects(ensureCa(dir), /ca\.crt without ca\.key/, 'half a CA is an error naming what is missing');
});

t.test('server and client leaves: a TLS handshake with the CA as the only trust, identity in CN and URI SAN', async (t) => {
  const dir = tmp(t);
  const ca = await ensureCa(path.join(dir, 'ca'));
  const srv = await issueCert(ca, dir, 'server', { cn: 'master-1', usage: 'server', ips: ['127.0.0.1'], dns: ['localhost'] });
  const cli = await issueCert(ca, dir, 'client', { cn: 'agent-S1', usage: 'client', uris: ['spiffe://sextant/agent/S1'] });
  t.equal(fs.statSync(srv.key).mode & 0o777, 0o600, 'leaf key is 0600');
  const x = new X509Certificate(fs.readFileSync(srv.cert));
  t.ok(x.verify(new X509Certificate(fs.readFileSync(ca.cert)).publicKey), 'signed by the CA');
  t.ok(x.checkIP('127.0.0.1'), 'IP SAN');
  t.ok(x.checkHost('localhost'), 'DNS SAN');
  t.notOk(x.ca, 'a leaf is not a CA');
  const c = new X509Certificate(fs.readFileSync(cli.cert));
  t.match(c.subjectAltName ?? '', /URI:spiffe:\/\/sextant\/agent\/S1/, 'URI SAN carries the identity');

  const server = https.createServer({ cert: fs.readFileSync(srv.cert), key: fs.readFileSync(srv.key), ca: fs.readFileSync(ca.cert), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
    res.end(peer.subject?.CN ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  const port = (server.address() as AddressInfo).port;
  const get = (opts: https.RequestOptions) =>
    new Promise<string>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/', agent: false, ...opts }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d)).on('end', () => resolve(b));
      }).on('error', reject);
    });
  t.equal(await get({ ca: fs.readFileSync(ca.cert), cert: fs.readFileSync(cli.cert), key: fs.readFileSync(cli.key) }), 'agent-S1', 'mutual TLS with both leaves; the server sees the client CN');
  await t.rejects(get({ ca: fs.readFileSync(ca.cert) }), 'without a client certificate the handshake fails');
  const other = await ensureCa(path.join(dir, 'other'));
  await t.rejects(get({ ca: fs.readFileSync(other.cert), cert: fs.readFileSync(cli.cert), key: fs.readFileSync(cli.key) }), /self.signed|unable to verify|certificate/i, 'a client trusting another CA refuses the server');
});

t.test('bad input: names what was wrong, writes nothing', async (t) => {
  const dir = tmp(t);
  const ca = await ensureCa(path.join(dir, 'ca'));
  await t.rejects(issueCert(ca, dir, '../x', { cn: 'a', usage: 'server' }), /not a plain file name/);
  await t.rejects(issueCert(ca, dir, 'x', { cn: 'a/b', usage: 'server' }), /not a usable common name/);
  await t.rejects(issueCert(ca, dir, 'x', { cn: 'a', usage: 'server', dns: ['a,DNS:evil'] }), /contains a comma/);
  t.throws(() => extensions({ cn: 'a', usage: 'bogus' as 'server' }), /not server, client or both/);
  t.notOk(fs.existsSync(path.join(dir, 'x.key')), 'no key was written for refused input');
});
