/**
 * Credentials: mutual TLS with a cluster CA (both sides present a certificate signed by it), or
 * plaintext for local development, which logs a warning every time it is chosen.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { TlsOptions } from '../contracts/index.js';

/** PEM file paths, or the PEM contents as Buffers (contracts/tls.ts). */
export type { TlsOptions };

/** The PEM bytes of a path or Buffer; an unreadable path is a ConfigError naming the field. */
export function pem(field: string, v: string | Buffer): Buffer {
  if (Buffer.isBuffer(v)) return v;
  try {
    return readFileSync(v);
  } catch (e) {
    throw new ConfigError(field, `cannot read ${v}: ${(e as Error).message}`);
  }
}

export function serverCredentials(tls: TlsOptions | undefined, log: Logger): grpc.ServerCredentials {
  if (!tls) {
    log.warn('plaintext', { side: 'server', hint: "INSECURE: the control plane's gRPC runs without TLS (--insecure-dev): anyone who reaches this port can watch the cluster's network state as any agent; set tls {ca, cert, key} for mutual TLS" });
    return grpc.ServerCredentials.createInsecure();
  }
  return grpc.ServerCredentials.createSsl(pem('tls.ca', tls.ca), [{ cert_chain: pem('tls.cert', tls.cert), private_key: pem('tls.key', tls.key) }], true);
}

export function clientCredentials(tls: TlsOptions | undefined, log: Logger): grpc.ChannelCredentials {
  if (!tls) {
    log.warn('plaintext', { side: 'client', hint: "INSECURE: watching the control plane without TLS (--insecure-dev): the snapshot is neither authenticated nor private; set tls {ca, cert, key} for mutual TLS" });
    return grpc.credentials.createInsecure();
  }
  return grpc.credentials.createSsl(pem('tls.ca', tls.ca), pem('tls.key', tls.key), pem('tls.cert', tls.cert));
}
