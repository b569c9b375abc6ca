/**
 * A node's TLS material for mutual TLS with the cluster CA: the CA certificate, this node's
 * certificate (with its identity as a URI SAN: `spiffe://sextant/agent/<id>`,
 * `spiffe://sextant/master/<ip>`) and its key. PEM file paths, or the PEM contents as Buffers.
 */
export interface TlsOptions {
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
}
