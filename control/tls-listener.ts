/**
 * The control port under mutual TLS, with its failed handshakes visible. grpc-js (1.14) runs the
 * handshake inside its own HTTP/2 server and never tells the application when one fails, so a
 * plaintext caller, one without a certificate or one with another CA's certificate left no trace.
 * Here a `tls.Server` owned by the control server does the handshake (cluster CA, client certificate
 * requested and verified, ALPN `h2`), reports each failure by reason, and hands only sockets whose
 * certificate verified to grpc-js through `Server.createConnectionInjector`, which runs HTTP/2 on
 * them unchanged: `call.getAuthContext()` still reads the peer certificate of that TLS socket.
 */
import type net from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { pem, type TlsOptions } from './tls.js';

/** Why a handshake on the control port failed (`sextant_control_refused_total{reason}`). */
export type HandshakeReason = 'tls_handshake_plaintext' | 'tls_handshake_no_certificate' | 'tls_handshake_unknown_ca' | 'tls_handshake_other';

/** OpenSSL's answers to bytes that are not a TLS record (an HTTP/2 preface, an HTTP request, ...). */
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_HTTPS_PROXY_REQUEST', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_RECORD_LAYER_FAILURE']);

/** Certificate verification results that mean "not signed by the cluster CA". */
const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
]);

export interface HandshakeFailure {
  reason: HandshakeReason;
  /** OpenSSL's or Node's error code, or the certificate verification result. */
  code: string;
  peer: string;
}

/**
 * The reason of one `tlsClientError` (OpenSSL or the socket failed before the handshake was done), or,
 * with `authorizationError`, of a finished handshake whose client certificate did not verify.
 */
export function handshakeReason(err: { code?: string }, authorizationError?: string | Error | null): { reason: HandshakeReason; code: string } {
  const verify = typeof authorizationError === 'string' ? authorizationError : authorizationError?.message;
  if (verify) return { reason: UNKNOWN_CA.has(verify) ? 'tls_handshake_unknown_ca' : 'tls_handshake_other', code: verify };
  const code = err.code ?? 'unknown';
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return { reason: 'tls_handshake_no_certificate', code };
  if (NOT_TLS.has(code)) return { reason: 'tls_handshake_plaintext', code };
  return { reason: 'tls_handshake_other', code };
}

/** Why a finished handshake's peer is not let through (undefined: it is, its certificate verified). */
export function unverifiedPeer(socket: Pick<tls.TLSSocket, 'authorized' | 'authorizationError' | 'getPeerCertificate'>): { reason: HandshakeReason; code: string } | undefined {
  if (socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { reason: 'tls_handshake_no_certificate', code: 'NO_CLIENT_CERTIFICATE' };
  return handshakeReason({}, socket.authorizationError ?? 'UNVERIFIED');
}

export interface MutualTlsListener {
  port: number;
  /** Stop accepting connections (those open stay: grpc-js shuts its sessions down). */
  stopAccepting(): void;
  /** After grpc-js has shut down: destroy what is left (connections still in their handshake). */
  destroyRemaining(): void;
}

export interface ListenOptions {
  host: string;
  port: number;
  tls: TlsOptions;
  onFailure(f: HandshakeFailure): void;
  /** The listening socket failed after it was bound (accept errors). */
  onError?(e: Error): void;
  /** A handshake not done by then fails (`tls_handshake_other`, ERR_TLS_HANDSHAKE_TIMEOUT). Default 10 s. */
  handshakeTimeoutMs?: number;
}

/** Listen on host:port with mutual TLS and feed the verified connections to `server`. */
export async function listenMutualTls(server: grpc.Server, o: ListenOptions): Promise<MutualTlsListener> {
  const tlsServer = tls.createServer({
    ca: pem('tls.ca', o.tls.ca),
    cert: pem('tls.cert', o.tls.cert),
    key: pem('tls.key', o.tls.key),
    requestCert: true,
    // The chain is verified by OpenSSL against the cluster CA; whether the peer gets in is decided in
    // secureConnection below (while the socket still knows its peer, so the refusal names it), and
    // again by grpc-js, whose auth context holds only an authorized socket's certificate.
    rejectUnauthorized: false,
    ALPNProtocols: ['h2'],
    minVersion: 'TLSv1.2',
    handshakeTimeout: o.handshakeTimeoutMs ?? 10_000,
  });
  // Plaintext HTTP/2 framing over an already verified TLS socket: grpc-js must not add a TLS layer.
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  // Every TCP connection until it closes: what is left once grpc-js has shut down is destroyed.
  const open = new Set<net.Socket>();
  const peerOf = (s: net.Socket) => `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
  tlsServer.on('connection', (raw: net.Socket) => {
    open.add(raw);
    raw.once('close', () => open.delete(raw));
  });
  tlsServer.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
    o.onFailure({ ...handshakeReason(err), peer: peerOf(socket) });
    socket.destroy();
  });
  tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
    const refused = unverifiedPeer(socket);
    if (refused) {
      o.onFailure({ ...refused, peer: peerOf(socket) });
      socket.destroy();
      return;
    }
    injector.injectConnection(socket);
  });
  const port = await new Promise<number>((resolve, reject) => {
    tlsServer.once('error', reject);
    tlsServer.listen({ host: o.host, port: o.port }, () => {
      tlsServer.off('error', reject);
      resolve((tlsServer.address() as { port: number }).port);
    });
  });
  tlsServer.on('error', (e) => o.onError?.(e));
  return {
    port,
    stopAccepting: () => void tlsServer.close(),
    destroyRemaining: () => {
      for (const raw of open) raw.destroy();
      open.clear();
    },
  };
}
