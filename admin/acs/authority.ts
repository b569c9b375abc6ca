/**
 * The Authority (contracts/auth.ts) over the identity store and the cluster's tokens: who a request
 * speaks for, and whether they hold a permission. Both are answered from memory (one RS256 verify
 * and map look-ups), so the entry point can ask on every request.
 */
import { AUTH_COOKIE, type AuthFailure, type AuthResult, type Authority, type Identity, type Permission } from '../../contracts/index.js';
import type { IdentityStore } from './store.js';
import type { TokenSigner } from './tokens.js';

export type Headers = Record<string, string | string[] | undefined>;

/** The token a request carries: `Authorization: token=<jwt>` or `Bearer <jwt>`, else the cookie. */
export function tokenOf(headers: Headers): { token: string } | { reason: AuthFailure; message: string } {
  const auth = first(headers.authorization);
  if (auth !== undefined) {
    const m = /^\s*(?:token=|bearer\s+)(\S+)\s*$/i.exec(auth);
    if (!m) return { reason: 'malformed', message: 'the Authorization header is neither `token=<jwt>` nor `Bearer <jwt>`' };
    return { token: m[1]! };
  }
  const cookies = first(headers.cookie);
  if (cookies) {
    for (const part of cookies.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === AUTH_COOKIE) return { token: part.slice(eq + 1).trim() };
    }
  }
  return { reason: 'missing', message: `no token: send \`Authorization: token=<jwt>\`, \`Authorization: Bearer <jwt>\` or the ${AUTH_COOKIE} cookie` };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export class AcsAuthority implements Authority {
  constructor(
    private readonly store: IdentityStore,
    private readonly signer: TokenSigner,
    /** Told every refusal (metrics). */
    private readonly onRefusal: (reason: AuthFailure | 'forbidden') => void = () => undefined,
  ) {}

  async authenticate(headers: Headers): Promise<AuthResult> {
    const r = await this.check(headers);
    if (!r.ok) this.onRefusal(r.reason);
    return r;
  }

  private async check(headers: Headers): Promise<AuthResult> {
    const found = tokenOf(headers);
    if (!('token' in found)) return { ok: false, ...found };
    await this.store.load();
    const v = await this.signer.verify(found.token);
    if (!v.ok) return v;
    const user = this.store.user(v.token.uid);
    // A token from before the account existed belongs to an earlier account of that name.
    if (!user || v.token.iat < Math.floor(user.created / 1000) * 1000) return { ok: false, reason: 'unknown-identity', message: `the token is for \`${v.token.uid}\`, which is not an account here (deleted?)` };
    return { ok: true, identity: { uid: user.uid, kind: user.kind, superuser: this.store.isSuperuser(user.uid), expiresAt: v.token.exp } };
  }

  async authorize(identity: Identity, permission: Permission): Promise<boolean> {
    await this.store.load();
    const ok = this.store.user(identity.uid) !== undefined && this.store.holds(identity.uid, permission);
    if (!ok) this.onRefusal('forbidden');
    return ok;
  }
}
