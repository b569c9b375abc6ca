/**
 * The entry point's authentication in front of the Authority: verified credentials are cached
 * briefly by their SHA-256 (the token itself is not kept), so a token is verified once per TTL and
 * not on every request; authorize() answers are cached the same way. Repeated 401s from one client
 * address are slowed: past `throttleFailures` within `throttleWindowMs` the address gets 429 with
 * Retry-After for the rest of the window, without its credential being verified, unless the
 * credential is one already verified (a real user behind the same NAT keeps working).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import { AUTH_COOKIE, type AuthFailure, type Authority, type Identity, type Permission } from '../../contracts/auth.js';

export interface GateOptions {
  clock: Clock;
  /** How long a verified credential or an authorize answer is reused. */
  cacheMs: number;
  /** Most entries kept (oldest dropped first). */
  cacheSize: number;
  throttleFailures: number;
  throttleWindowMs: number;
}

export type GateResult =
  | { ok: true; identity: Identity }
  | { ok: false; status: 401; reason: AuthFailure; message: string }
  | { ok: false; status: 429; reason: 'throttled'; message: string; retryAfterS: number }
  | { ok: false; status: 503; reason: 'no-authority'; message: string };

type Headers = Record<string, string | string[] | undefined>;

/** A map whose entries expire and whose oldest entry goes first when full. */
export class TtlCache<V> {
  private readonly m = new Map<string, { v: V; until: number }>();
  constructor(private readonly size: number) {}
  get(k: string, now: number): V | undefined {
    const e = this.m.get(k);
    if (!e) return undefined;
    if (e.until > now) return e.v;
    this.m.delete(k);
    return undefined;
  }
  set(k: string, v: V, until: number): void {
    if (this.m.size >= this.size) this.m.delete(this.m.keys().next().value!);
    this.m.set(k, { v, until });
  }
  get count(): number {
    return this.m.size;
  }
}

/** The part of the headers that carries a credential; '' when none. */
export function credentialOf(h: Headers): string {
  const auth = h.authorization;
  const a = Array.isArray(auth) ? auth.join(',') : auth ?? '';
  const c = h.cookie;
  const cookie = Array.isArray(c) ? c.join('; ') : c ?? '';
  return a || (cookie.includes(AUTH_COOKIE) ? cookie : '');
}

/** What the entry point asks per request: an AuthGate, or in a worker process the primary's one through IPC (workers.ts). */
export interface Gate {
  authenticate(headers: Headers, address: string, count?: boolean): Promise<GateResult>;
  authorize(identity: Identity, p: Permission): Promise<boolean>;
  readonly cached: number;
}

/** The cache key of a credential: its SHA-256 (the credential itself is not kept). */
export function credentialKey(cred: string): string {
  return cred ? createHash('sha256').update(cred).digest('base64') : '';
}

export class AuthGate implements Gate {
  private readonly tokens: TtlCache<Identity>;
  private readonly grants: TtlCache<boolean>;
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(private readonly authority: () => Authority | undefined, private readonly o: GateOptions) {
    this.tokens = new TtlCache(o.cacheSize);
    this.grants = new TtlCache(o.cacheSize);
  }

  /** `count`: false for a look that must not feed the throttle (the nginx front's decision check: the refusal itself comes next). */
  async authenticate(headers: Headers, address: string, count = true): Promise<GateResult> {
    const now = this.o.clock.now();
    const cred = credentialOf(headers);
    const key = credentialKey(cred);
    const cached = key ? this.tokens.get(key, now) : undefined;
    if (cached) return { ok: true, identity: cached };
    const throttled = this.throttledFor(address, now);
    if (throttled) return { ok: false, status: 429, reason: 'throttled', message: `too many failed authentications from ${address}; retry in ${throttled} s`, retryAfterS: throttled };
    if (!cred) {
      if (count) this.fail(address, now);
      return { ok: false, status: 401, reason: 'missing', message: 'no credential: send Authorization: token=<jwt> (or Bearer <jwt>, or the dcos-acs-auth-cookie cookie)' };
    }
    const authority = this.authority();
    if (!authority) return { ok: false, status: 503, reason: 'no-authority', message: 'no identity service runs in this master (admin/acs): the entry point refuses what it cannot authenticate' };
    let r: Awaited<ReturnType<Authority['authenticate']>>;
    try {
      r = await authority.authenticate(headers);
    } catch (e) {
      // The identity service could not be asked (a follower whose leader is gone or not answering):
      // unavailable, not the caller's fault and not a server bug; nothing is let through or counted.
      return { ok: false, status: 503, reason: 'no-authority', message: `the identity service could not be asked: ${(e as Error).message}` };
    }
    if (!r.ok) {
      if (count) this.fail(address, now);
      return { ok: false, status: 401, reason: r.reason, message: r.message };
    }
    // Never reused past the credential's expiry.
    this.tokens.set(key, r.identity, Math.min(now + this.o.cacheMs, r.identity.expiresAt ?? Infinity));
    return { ok: true, identity: r.identity };
  }

  /** Count a failed authentication from outside (a 401 the login route answered). */
  fail(address: string, now = this.o.clock.now()): void {
    const f = this.failures.get(address);
    if (!f || now - f.since >= this.o.throttleWindowMs) {
      if (this.failures.size > 100_000) this.failures.clear();
      this.failures.set(address, { count: 1, since: now });
    } else f.count++;
  }

  /** Seconds left in the throttle window, or 0 when the address is not throttled. */
  throttledFor(address: string, now = this.o.clock.now()): number {
    const f = this.failures.get(address);
    if (!f || f.count < this.o.throttleFailures) return 0;
    const left = f.since + this.o.throttleWindowMs - now;
    if (left <= 0) {
      this.failures.delete(address);
      return 0;
    }
    return Math.ceil(left / 1000);
  }

  async authorize(identity: Identity, p: Permission): Promise<boolean> {
    if (identity.superuser) return true;
    const now = this.o.clock.now();
    const key = `${identity.kind}\0${identity.uid}\0${p.resource}\0${p.action}`;
    const hit = this.grants.get(key, now);
    if (hit !== undefined) return hit;
    const authority = this.authority();
    if (!authority) return false;
    const ok = await authority.authorize(identity, p);
    this.grants.set(key, ok, now + this.o.cacheMs);
    return ok;
  }

  get cached(): number {
    return this.tokens.count;
  }
}
