/**
 * Who is on the other end of a node:tls / node:https connection: the cluster identity a verified
 * peer certificate carries as a URI SAN (`spiffe://sextant/master/<ip>`, `spiffe://sextant/agent/<id>`,
 * `spiffe://sextant/entry`, `spiffe://sextant/mesos-dns`, `spiffe://sextant/cli`). A certificate counts
 * only when the TLS layer verified it against the cluster CA (`socket.authorized`). The gRPC control
 * plane reads the same URIs through its own twin (control/).
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export const IDENTITY_KINDS = ['master', 'agent', 'entry', 'mesos-dns', 'cli'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

export interface ClusterIdentity {
  kind: IdentityKind;
  /** The agent id or the master's address; absent for the kinds that have none. */
  id?: string;
  uri: string;
}

export type PeerIdentity = { ok: true; identity: ClusterIdentity } | { ok: false; reason: 'plain_connection' | 'no_client_certificate' | 'untrusted_certificate' | 'no_identity'; why: string };

const SPIFFE = /^spiffe:\/\/sextant\/([a-z-]+)(?:\/([A-Za-z0-9._:-]{1,255}))?$/;
const NEEDS_ID: ReadonlySet<IdentityKind> = new Set(['master', 'agent']);

/** The URI of an identity: `spiffe://sextant/<kind>[/<id>]`. */
export function identityUri(kind: IdentityKind, id?: string): string {
  if (NEEDS_ID.has(kind) !== (id !== undefined)) throw new Error(`identity ${kind} ${NEEDS_ID.has(kind) ? 'needs' : 'takes no'} id`);
  if (id !== undefined && !/^[A-Za-z0-9._:-]{1,255}$/.test(id)) throw new Error(`'${id}' is not a usable identity id`);
  return `spiffe://sextant/${kind}${id === undefined ? '' : `/${id}`}`;
}

/** Parse one `spiffe://sextant/...` URI; undefined when it is not a cluster identity. */
export function parseIdentityUri(uri: string): ClusterIdentity | undefined {
  const m = SPIFFE.exec(uri);
  if (!m) return undefined;
  const kind = m[1] as IdentityKind;
  if (!(IDENTITY_KINDS as readonly string[]).includes(kind)) return undefined;
  if (NEEDS_ID.has(kind) !== (m[2] !== undefined)) return undefined;
  return { kind, ...(m[2] !== undefined ? { id: m[2] } : {}), uri };
}

/**
 * The cluster identity in a certificate's subjectAltName as node prints it
 * (`IP Address:127.0.0.1, URI:spiffe://sextant/agent/S1`). A certificate with two different
 * cluster identities has none (ambiguous).
 */
export function identityFromSan(subjectaltname: string | undefined): ClusterIdentity | undefined {
  if (!subjectaltname) return undefined;
  const found = subjectaltname
    .split(/,\s*/)
    .filter((e) => e.startsWith('URI:'))
    .map((e) => parseIdentityUri(e.slice(4).replace(/^"|"$/g, '')))
    .filter((x): x is ClusterIdentity => x !== undefined);
  const uris = new Set(found.map((f) => f.uri));
  return uris.size === 1 ? found[0] : undefined;
}

/** The verified cluster identity of a connection's peer, or why there is none. */
export function peerIdentity(socket: Socket | TLSSocket): PeerIdentity {
  const s = socket as Partial<TLSSocket>;
  if (!s.encrypted || typeof s.getPeerCertificate !== 'function') return { ok: false, reason: 'plain_connection', why: 'not a TLS connection' };
  const cert = s.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { ok: false, reason: 'no_client_certificate', why: 'no client certificate: present a certificate of the cluster CA' };
  if (!s.authorized) return { ok: false, reason: 'untrusted_certificate', why: `the client certificate is not from the cluster CA (${String(s.authorizationError ?? 'unverified')})` };
  const identity = identityFromSan(cert.subjectaltname);
  if (!identity) return { ok: false, reason: 'no_identity', why: 'the client certificate carries no spiffe://sextant/... identity' };
  return { ok: true, identity };
}
