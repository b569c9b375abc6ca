/**
 * How a failed handshake on the control port is classified (control/tls-listener.ts): the reason
 * table, and the failures that are neither plaintext, a missing certificate nor another CA's (a
 * connection closed before its handshake) counted as `tls_handshake_other` by a real server.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, issueCert } from '../../common/pki.js';
import { createRegistry } from '../../common/metrics.js';
import { eventually, requireTools } from '../../test/lib/index.js';
import { masterUri } from '../identity.js';
import { handshakeReason, unverifiedPeer } from '../tls-listener.js';
import { startServer } from './helpers.js';

t.test('handshake failure reasons', async (t) => {
  const cases: [string, { code?: string }, string | undefined, string][] = [
    ['an HTTP/2 preface in plaintext', { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }, undefined, 'tls_handshake_plaintext'],
    ['a plaintext HTTP request', { code: 'ERR_SSL_HTTP_REQUEST' }, undefined, 'tls_handshake_plaintext'],
    ['no client certificate', { code: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' }, undefined, 'tls_handshake_no_certificate'],
    ["another CA's leaf", { code: 'ECONNRESET' }, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls_handshake_unknown_ca'],
    ["another CA's chain", { code: 'ECONNRESET' }, 'SELF_SIGNED_CERT_IN_CHAIN', 'tls_handshake_unknown_ca'],
    ['a self-signed certificate', { code: 'ECONNRESET' }, 'DEPTH_ZERO_SELF_SIGNED_CERT', 'tls_handshake_unknown_ca'],
    ['an expired cluster certificate', { code: 'ECONNRESET' }, 'CERT_HAS_EXPIRED', 'tls_handshake_other'],
    ['a handshake timeout', { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }, undefined, 'tls_handshake_other'],
    ['a connection closed before its handshake', { code: 'ECONNRESET' }, undefined, 'tls_handshake_other'],
    ['an error without a code', {}, undefined, 'tls_handshake_other'],
  ];
  for (const [what, err, verify, reason] of cases) t.equal(handshakeReason(err, verify).reason, reason, what);
  t.same(handshakeReason({ code: 'ECONNRESET' }, 'CERT_HAS_EXPIRED'), { reason: 'tls_handshake_other', code: 'CERT_HAS_EXPIRED' }, 'the verification result is the code logged');
  // A finished handshake: only an authorized peer gets through; a missing certificate is told apart from
  // Node's UNABLE_TO_GET_ISSUER_CERT, which it reports for both.
  const peer = (authorized: boolean, authorizationError: string | undefined, cert: object) => ({ authorized, authorizationError: authorizationError as unknown as Error, getPeerCertificate: () => cert as never });
  t.equal(unverifiedPeer(peer(true, undefined, { subject: {} })), undefined, 'a verified certificate: through');
  t.same(unverifiedPeer(peer(false, 'UNABLE_TO_GET_ISSUER_CERT', {})), { reason: 'tls_handshake_no_certificate', code: 'NO_CLIENT_CERTIFICATE' }, 'no certificate');
  t.same(unverifiedPeer(peer(false, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', { subject: {} })), { reason: 'tls_handshake_unknown_ca', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, "another CA's certificate");
  t.same(unverifiedPeer(peer(false, 'CERT_HAS_EXPIRED', { subject: {} })), { reason: 'tls_handshake_other', code: 'CERT_HAS_EXPIRED' }, 'an expired one');
});

t.test('a connection closed before its handshake is counted as other', async (t) => {
  requireTools('openssl');
  const dir = mkdtempSync(join(tmpdir(), 'sx-control-tlsl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await ensureCa(join(dir, 'ca'));
  const master = await issueCert(ca, join(dir, 'certs'), 'master', { cn: 'master', usage: 'both', ips: ['127.0.0.1'], uris: [masterUri('127.0.0.1')] });
  const registry = createRegistry();
  const server = await startServer(t, { tls: master, registry });
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(server.port, '127.0.0.1', () => s.end());
    s.on('error', reject);
    s.on('close', () => resolve());
  });
  const value = await eventually(async () => {
    const v = (await registry.getSingleMetric('sextant_control_refused_total')!.get()).values.find((x) => x.labels.reason === 'tls_handshake_other')?.value;
    return v && v;
  }, 5000, 20, 'the closed connection counted');
  t.equal(value, 1, 'one connection, one count');
});
