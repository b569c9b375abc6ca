/**
 * The Authority (contracts/auth.ts) of a master that does not run the identity service: with
 * `--zk` it runs on the leader only, so the entry point of a follower asks the leader. The
 * credential goes to `GET /acs/api/v1/auth/whoami` on this master's own Mesos port, which a
 * follower answers with a 307 to the leader (followed once, to a host that must present a master's
 * certificate of the cluster CA), over mutual TLS with this master's certificate. whoami answers
 * the identity and its grants; authorize() decides from the grants of the last whoami of that uid
 * (coveringResources/actionAllows, as the store does). The entry point caches both answers
 * (SEXTANT_ENTRY_TOKEN_CACHE_MS), so the leader is asked once per credential and period.
 * A missing or malformed credential is refused here without asking; when the leader cannot be
 * asked, authenticate() throws naming why (the entry point answers 503 `no-authority`: nothing is let through).
 */
import http from 'node:http';
import https from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { responseJson } from '../../common/http.js';
import { identityFromSan } from '../../common/tls-identity.js';
import type { TlsMaterial } from '../../common/tls-files.js';
import type { AuthFailure, AuthResult, Authority, Identity, Permission } from '../../contracts/auth.js';
import { tokenOf, type Headers } from './authority.js';
import { actionAllows, coveringResources } from './ids.js';

export interface LeaderAuthorityOptions {
  /** This master's address and Mesos port. */
  ip: string;
  port: number;
  /** The master's mutual-TLS material (absent: --insecure-dev, plain HTTP). */
  tls?: TlsMaterial;
  timeoutMs?: number;
}

interface Answer {
  status: number;
  location?: string;
  body: unknown;
}

/** whoami's 401 codes (admin/acs/api.ts) back to the AuthFailure they stand for. */
const REASONS: Record<string, AuthFailure> = { ERR_MISSING_AUTH_TOKEN: 'missing', ERR_EXPIRED_AUTH_TOKEN: 'expired', ERR_UNKNOWN_USER_ID: 'unknown-identity', ERR_INVALID_AUTH_TOKEN: 'bad-signature' };

/** The `exp` claim (ms) of a token the leader just accepted (read, not verified: the leader verified it), so caches end with it. */
function expiryOf(token: string): number | undefined {
  try {
    const exp = (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Grants kept per uid: at most this many uids (oldest dropped). */
const MAX_UIDS = 10_000;

export class LeaderAuthority implements Authority {
  private readonly grants = new Map<string, { rid: string; actions: string[] }[]>();
  constructor(private readonly o: LeaderAuthorityOptions) {}

  async authenticate(headers: Headers): Promise<AuthResult> {
    const found = tokenOf(headers);
    if (!('token' in found)) return { ok: false, ...found };
    const auth = { authorization: `token=${found.token}` };
    const scheme = this.o.tls ? 'https' : 'http';
    const host = this.o.ip.includes(':') ? `[${this.o.ip}]` : this.o.ip;
    let r = await this.get(`${scheme}://${host}:${this.o.port}/acs/api/v1/auth/whoami`, auth);
    if (r.status === 307 && r.location) r = await this.get(new URL(r.location, `${scheme}://${host}:${this.o.port}`).toString(), auth);
    const b = (r.body ?? {}) as { uid?: unknown; kind?: unknown; superuser?: unknown; permissions?: unknown; code?: unknown; description?: unknown };
    if (r.status === 401) return { ok: false, reason: REASONS[String(b.code)] ?? 'bad-signature', message: typeof b.description === 'string' ? b.description : 'the leader refused the token' };
    if (r.status !== 200 || typeof b.uid !== 'string') throw new Error(`the leading master's identity service answered ${r.status} to whoami${typeof b.description === 'string' ? `: ${b.description}` : ''}`);
    const exp = expiryOf(found.token);
    const identity: Identity = { uid: b.uid, kind: b.kind === 'service' ? 'service' : 'user', superuser: b.superuser === true, ...(exp ? { expiresAt: exp } : {}) };
    if (this.grants.size >= MAX_UIDS && !this.grants.has(identity.uid)) this.grants.delete(this.grants.keys().next().value!);
    this.grants.set(identity.uid, Array.isArray(b.permissions) ? (b.permissions as { rid: string; actions: string[] }[]) : []);
    return { ok: true, identity };
  }

  async authorize(identity: Identity, p: Permission): Promise<boolean> {
    if (identity.superuser) return true;
    const grants = this.grants.get(identity.uid) ?? [];
    return coveringResources(p.resource).some((rid) => actionAllows(grants.find((g) => g.rid === rid)?.actions ?? [], p.action));
  }

  private get(url: string, headers: Record<string, string>): Promise<Answer> {
    const timeout = this.o.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const onRes = (res: http.IncomingMessage) =>
        void responseJson(res).then(({ status, headers, body }) => resolve({ status, ...(typeof headers.location === 'string' ? { location: headers.location } : {}), body }), reject);
      const opts = { headers, timeout, agent: false as const };
      const req = url.startsWith('https:')
        ? https.request(url, { ...opts, ...this.o.tls, checkServerIdentity: masterOnly }, onRes)
        : http.request(url, opts, onRes);
      req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${timeout} ms`))).on('error', reject);
      req.end();
    });
  }
}

/** The certificate must be a master's (besides the CA and its IP SAN, which node checks first). */
function masterOnly(host: string, cert: PeerCertificate): Error | undefined {
  const err = checkServerIdentity(host, cert);
  if (err) return err;
  return identityFromSan(cert.subjectaltname)?.kind === 'master' ? undefined : new Error(`${host} presented no master's certificate (${cert.subjectaltname ?? 'no SAN'})`);
}
