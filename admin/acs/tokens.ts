/**
 * The cluster's token signer: one RSA key pair kept in the store (`acs/signing-key`), made by the
 * first master that needs it and shared by every master since they share the store. Tokens are
 * RS256 JWTs with `uid`, `iat` and `exp` (DC/OS's auth token), checked against an injected clock.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, randomUUID, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { errors as joseErrors, exportJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import { systemClock, type Clock, type Logger } from '../../common/index.js';
import type { AuthFailure, KvStore } from '../../contracts/index.js';
import { checkSigningKey } from './schema.js';

const KEY = 'acs/signing-key';
/** DC/OS's default token lifetime: 5 days. */
export const DEFAULT_TOKEN_LIFETIME_MS = 5 * 24 * 3600_000;

interface StoredKey {
  kid: string;
  private_pem: string;
  public_pem: string;
  created: number;
}

export interface VerifiedToken {
  uid: string;
  /** Issued-at and expiry, ms since the epoch. */
  iat: number;
  exp: number;
}

export type TokenCheck = { ok: true; token: VerifiedToken } | { ok: false; reason: AuthFailure; message: string };

export class TokenSigner {
  private keys?: Promise<{ kid: string; priv: KeyObject; pub: KeyObject }>;
  private readonly clock: Clock;
  private readonly log?: Logger;
  readonly lifetimeMs: number;

  constructor(
    private readonly kv: KvStore,
    opts: { clock?: Clock; lifetimeMs?: number; log?: Logger } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.lifetimeMs = opts.lifetimeMs ?? DEFAULT_TOKEN_LIFETIME_MS;
    if (opts.log) this.log = opts.log;
  }

  /** Loads the cluster key, making it if the store has none (once; later calls share it). */
  load(): Promise<{ kid: string; priv: KeyObject; pub: KeyObject }> {
    return (this.keys ??= this.loadOnce().catch((e) => {
      this.keys = undefined;
      throw e;
    }));
  }

  private async loadOnce(): Promise<{ kid: string; priv: KeyObject; pub: KeyObject }> {
    let stored = await this.kv.get<StoredKey>(KEY);
    if (stored !== undefined && checkSigningKey.errors(stored).length) throw new Error(`${KEY} in the store is not a signing key record; delete it to make a new key (every token issued with it becomes invalid)`);
    if (!stored) {
      const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
      stored = {
        kid: randomUUID(),
        private_pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        public_pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        created: this.clock.now(),
      };
      await this.kv.put(KEY, stored);
      this.log?.info('signing_key_created', { kid: stored.kid });
    }
    return { kid: stored.kid, priv: createPrivateKey(stored.private_pem), pub: createPublicKey(stored.public_pem) };
  }

  async issue(uid: string): Promise<{ token: string; exp: number }> {
    const { kid, priv } = await this.load();
    const now = Math.floor(this.clock.now() / 1000);
    const exp = now + Math.ceil(this.lifetimeMs / 1000);
    const token = await new SignJWT({ uid }).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).setIssuedAt(now).setExpirationTime(exp).sign(priv);
    return { token, exp: exp * 1000 };
  }

  /** Checks signature, algorithm, expiry (by the injected clock) and the `uid` claim. */
  async verify(token: string): Promise<TokenCheck> {
    const { pub } = await this.load();
    const r = await verifyJwt(token, pub, this.clock);
    if (!r.ok) return r;
    const { uid, iat } = r.payload;
    if (typeof uid !== 'string' || !uid) return { ok: false, reason: 'malformed', message: 'the token has no uid claim' };
    return { ok: true, token: { uid, iat: typeof iat === 'number' ? iat * 1000 : 0, exp: (r.payload.exp as number) * 1000 } };
  }

  /** The public key as a JWK set (`GET /acs/api/v1/auth/jwks`), for whoever checks tokens offline. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const { kid, pub } = await this.load();
    return { keys: [{ ...(await exportJWK(pub)), kid, alg: 'RS256', use: 'sig' }] };
  }
}

/** Verify an RS256 JWT with `exp` against a key; failures say which of the AuthFailure reasons. */
export async function verifyJwt(token: string, key: KeyObject, clock: Clock): Promise<{ ok: true; payload: Record<string, unknown> } | { ok: false; reason: AuthFailure; message: string }> {
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) return { ok: false, reason: 'malformed', message: 'the token is not a JWT (three base64url parts)' };
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ['RS256'], currentDate: new Date(clock.now()), requiredClaims: ['exp'] });
    return { ok: true, payload: payload as Record<string, unknown> };
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired', message: 'the token has expired' };
    if (e instanceof joseErrors.JWSSignatureVerificationFailed) return { ok: false, reason: 'bad-signature', message: 'the token was not signed by this cluster' };
    if (e instanceof joseErrors.JOSEAlgNotAllowed) return { ok: false, reason: 'bad-signature', message: 'the token is not signed with RS256' };
    return { ok: false, reason: 'malformed', message: `the token is malformed: ${(e as Error).message}` };
  }
}

