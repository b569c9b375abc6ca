/**
 * Who is on the other end of a watch stream: read from the client certificate that mutual TLS
 * verified against the cluster CA. Identities are URI SANs (shared with the HTTP ports' mutual TLS):
 * `spiffe://sextant/agent/<agentId>` for agents, `spiffe://sextant/master/<ip>` for masters.
 * A certificate naming no identity, or more than one, identifies no one.
 */
import { isIP } from 'node:net';
import type * as grpc from '@grpc/grpc-js';

export const SPIFFE_DOMAIN = 'sextant';

/** Agent ids as the control plane accepts them in a hello (control/stream.ts). */
export const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/;

/** Cluster components whose certificates name no id (common/tls-identity.ts): never agents. */
const OTHER_ROLES = new Set(['entry', 'mesos-dns', 'cli']);

export type PeerIdentity =
  | { kind: 'agent'; agentId: string; uri: string }
  | { kind: 'master'; ip: string; uri: string }
  /** Another cluster component (`spiffe://sextant/entry`, `.../mesos-dns`, `.../cli`). */
  | { kind: 'component'; role: string; uri: string }
  /** A certificate without a usable sextant identity (`why` says what it held instead). */
  | { kind: 'none'; why: string }
  /** No client certificate at all (plaintext, or TLS without one). */
  | { kind: 'anonymous' };

/** The URI SAN of an agent's certificate (agent ids need no escaping; a percent-encoded one is read too). */
export function agentUri(agentId: string): string {
  return `spiffe://${SPIFFE_DOMAIN}/agent/${agentId}`;
}

/** The URI SAN of a master's certificate. */
export function masterUri(ip: string): string {
  return `spiffe://${SPIFFE_DOMAIN}/master/${ip}`;
}

/**
 * Split Node's `subjectaltname` text (`DNS:a, URI:spiffe://..., IP Address:1.2.3.4`) into
 * [type, value] pairs. Values holding a comma, quote or other special character are JSON-quoted by
 * Node (since the 2022 SAN fixes), so a DNS name cannot smuggle in a `, URI:...` of its own.
 */
export function parseSubjectAltName(text: string | undefined): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  const s = text ?? '';
  while (i < s.length) {
    const colon = s.indexOf(':', i);
    if (colon < 0) break;
    const type = s.slice(i, colon).trim();
    let j = colon + 1;
    let value: string;
    if (s[j] === '"') {
      // A JSON string: find its closing quote, honouring backslash escapes.
      let k = j + 1;
      while (k < s.length && s[k] !== '"') k += s[k] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(s.slice(j, k + 1)) as string;
      } catch {
        value = s.slice(j + 1, k);
      }
      j = k + 1;
    } else {
      const comma = s.indexOf(', ', j);
      const end = comma < 0 ? s.length : comma;
      value = s.slice(j, end);
      j = end;
    }
    out.push([type, value]);
    const next = s.indexOf(', ', j);
    if (next < 0) break;
    i = next + 2;
  }
  return out;
}

/** The sextant identity of one URI, undefined for a URI outside `spiffe://sextant/`, an Error for a malformed one. */
export function parseSpiffeUri(uri: string): PeerIdentity | Error | undefined {
  const prefix = `spiffe://${SPIFFE_DOMAIN}/`;
  if (!uri.toLowerCase().startsWith(prefix)) return undefined;
  const rest = uri.slice(prefix.length);
  const [role = '', ...tail] = rest.split('/');
  if (OTHER_ROLES.has(role) && tail.length === 0) return { kind: 'component', role, uri };
  if (tail.length !== 1 || !tail[0]) return new Error(`'${uri}' is not spiffe://${SPIFFE_DOMAIN}/<agent|master>/<id>`);
  let id: string;
  try {
    id = decodeURIComponent(tail[0]);
  } catch {
    return new Error(`'${uri}' has a malformed percent-encoding`);
  }
  if (role === 'agent') return AGENT_ID.test(id) ? { kind: 'agent', agentId: id, uri } : new Error(`'${uri}' names an invalid agent id`);
  if (role === 'master') return isIP(id) ? { kind: 'master', ip: id, uri } : new Error(`'${uri}' names no master IP`);
  return new Error(`'${uri}' names an unknown role '${role}'`);
}

/** The identity a verified certificate's `subjectaltname` carries. */
export function identityFromSan(subjectaltname: string | undefined): PeerIdentity {
  const uris = parseSubjectAltName(subjectaltname).filter(([t]) => t === 'URI').map(([, v]) => v);
  const found: PeerIdentity[] = [];
  const bad: string[] = [];
  for (const u of uris) {
    const r = parseSpiffeUri(u);
    if (r instanceof Error) bad.push(r.message);
    else if (r) found.push(r);
  }
  if (bad.length) return { kind: 'none', why: `the certificate's identity is malformed: ${bad[0]}` };
  if (found.length > 1) return { kind: 'none', why: `the certificate names ${found.length} identities (${found.map((f) => (f as { uri: string }).uri).join(', ')}); exactly one is required` };
  if (found.length === 1) return found[0]!;
  return { kind: 'none', why: uris.length ? `the certificate's URI SANs (${uris.join(', ')}) name no spiffe://${SPIFFE_DOMAIN}/ identity` : `the certificate has no spiffe://${SPIFFE_DOMAIN}/ URI SAN` };
}

/** The identity of a server call's peer: from the certificate the TLS handshake verified, if any. */
export function peerIdentity(call: Pick<grpc.ServerDuplexStream<unknown, unknown>, 'getAuthContext'>): PeerIdentity {
  let cert;
  try {
    cert = call.getAuthContext()?.sslPeerCertificate;
  } catch {
    cert = undefined;
  }
  if (!cert) return { kind: 'anonymous' };
  return identityFromSan(cert.subjectaltname);
}

/** Why a peer may not watch as `agentId`, as a gRPC refusal; undefined when it may. */
export interface Refusal {
  code: 'UNAUTHENTICATED' | 'PERMISSION_DENIED';
  reason: 'no_certificate' | 'no_identity' | 'not_agent' | 'identity_mismatch';
  details: string;
}

/** Before the hello: a peer that is not an agent is refused at once. */
export function refuseCaller(id: PeerIdentity): Refusal | undefined {
  if (id.kind === 'anonymous') return { code: 'UNAUTHENTICATED', reason: 'no_certificate', details: 'a client certificate of the cluster CA is required' };
  if (id.kind === 'none') return { code: 'UNAUTHENTICATED', reason: 'no_identity', details: id.why };
  if (id.kind === 'master') return { code: 'PERMISSION_DENIED', reason: 'not_agent', details: `${id.uri} is a master's certificate; only agents watch the control plane` };
  if (id.kind === 'component') return { code: 'PERMISSION_DENIED', reason: 'not_agent', details: `${id.uri} is the ${id.role}'s certificate; only agents watch the control plane` };
  return undefined;
}

/** At the hello: an agent watches only as itself. */
export function refuseAgentId(id: PeerIdentity, agentId: string): Refusal | undefined {
  const r = refuseCaller(id);
  if (r) return r;
  if (id.kind === 'agent' && id.agentId !== agentId)
    return { code: 'PERMISSION_DENIED', reason: 'identity_mismatch', details: `hello.agent_id '${agentId}' is not the certificate's agent '${id.agentId}'` };
  return undefined;
}
