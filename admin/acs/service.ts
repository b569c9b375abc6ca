/**
 * The identity service: the store, the token signer, the Authority, login and bootstrap, as one
 * Component. Construction does no I/O; `start()` loads identities and the signing key (making the
 * key once per cluster) and creates the bootstrap superuser when the store has no account yet.
 * One instance per master process: the entry point must use this instance's `authority`.
 */
import { createPublicKey } from 'node:crypto';
import { createLogger, prom, systemClock, type Clock, type Component, type Logger, type Registry } from '../../common/index.js';
import type { KvStore } from '../../contracts/index.js';
import { AcsAuthority } from './authority.js';
import { AcsError, badCredentials } from './errors.js';
import { SUPERUSER_RESOURCE } from './ids.js';
import { decoyHash, verifyPassword, type ScryptParams } from './password.js';
import type { LoginBody } from './schema.js';
import { IdentityStore } from './store.js';
import { LoginThrottle, type ThrottleOptions } from './throttle.js';
import { TokenSigner, verifyJwt } from './tokens.js';

export interface AcsOptions {
  store: KvStore;
  registry: Registry;
  log?: Logger;
  clock?: Clock;
  /** Lifetime of issued tokens (default 5 days, as DC/OS). */
  tokenLifetimeMs?: number;
  /** ACS writes need a token with `dcos:adminrouter:acs` (or superuser). Default true. */
  requireAuth?: boolean;
  /** Created with `dcos:superuser full` at start when the store holds no account. */
  superuser?: { uid: string; password: string };
  scrypt?: ScryptParams;
  throttle?: ThrottleOptions;
}

export type LoginResult = 'success' | 'failure' | 'throttled';

export class Acs implements Component {
  readonly name = 'acs';
  readonly identities: IdentityStore;
  readonly signer: TokenSigner;
  readonly authority: AcsAuthority;
  readonly throttle: LoginThrottle;
  readonly requireAuth: boolean;
  readonly log: Logger;
  private readonly clock: Clock;
  private readonly logins: prom.Counter<'result'>;

  constructor(private readonly opts: AcsOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? createLogger('acs');
    this.requireAuth = opts.requireAuth ?? true;
    this.identities = new IdentityStore(opts.store, { clock: this.clock, log: this.log, ...(opts.scrypt ? { scrypt: opts.scrypt } : {}) });
    this.signer = new TokenSigner(opts.store, { clock: this.clock, log: this.log, ...(opts.tokenLifetimeMs ? { lifetimeMs: opts.tokenLifetimeMs } : {}) });
    this.throttle = new LoginThrottle({ clock: this.clock, ...opts.throttle });
    this.logins = new prom.Counter({ name: 'sextant_acs_logins_total', help: 'Logins at /acs/api/v1/auth/login by result (success, failure, throttled)', labelNames: ['result'], registers: [opts.registry] });
    const refusals = new prom.Counter({ name: 'sextant_acs_refusals_total', help: 'Requests refused by the Authority, by reason (missing, malformed, expired, bad-signature, unknown-identity, forbidden)', labelNames: ['reason'], registers: [opts.registry] });
    this.authority = new AcsAuthority(this.identities, this.signer, (reason) => refusals.inc({ reason }));
  }

  async start(): Promise<void> {
    await this.identities.load();
    await this.signer.load();
    const su = this.opts.superuser;
    if (!su) return;
    if (this.identities.userCount > 0) {
      this.log.info('superuser_bootstrap_skipped', { uid: su.uid, reason: 'accounts exist already' });
      return;
    }
    await this.identities.createUser(su.uid, { password: su.password, description: 'bootstrap superuser' });
    await this.identities.grant(SUPERUSER_RESOURCE, su.uid, 'full');
    this.log.info('superuser_created', { uid: su.uid });
  }

  async stop(): Promise<void> {
    await this.identities.idle();
  }

  /** A login: a password, or a service account's login JWT. Throws AcsError 401/429; slowed per address+uid. */
  async login(body: LoginBody, address: string): Promise<{ token: string; exp: number }> {
    await this.identities.load();
    const key = `${address}|${body.uid}`;
    const turn = await this.throttle.admit(key);
    if (!turn.ok) {
      this.count('throttled', body.uid, address);
      throw Object.assign(new AcsError(429, 'ERR_TOO_MANY_ATTEMPTS', `too many failed logins for \`${body.uid}\` from ${address}: retry in ${Math.ceil(turn.retryAfterMs / 1000)} s`), { retryAfterMs: turn.retryAfterMs });
    }
    if (!(await this.credentialsOk(body))) {
      this.throttle.failed(key);
      this.count('failure', body.uid, address);
      throw badCredentials();
    }
    this.throttle.succeeded(key);
    this.count('success', body.uid, address);
    return this.signer.issue(body.uid);
  }

  private count(result: LoginResult, uid: string, address: string): void {
    this.logins.inc({ result });
    this.log.info('login', { uid, address, result });
  }

  private async credentialsOk(body: LoginBody): Promise<boolean> {
    const user = this.identities.user(body.uid);
    if (body.password !== undefined) {
      if (user?.kind === 'user' && user.password) return verifyPassword(body.password, user.password);
      await verifyPassword(body.password, await decoyHash(this.opts.scrypt)); // same time as a known uid
      return false;
    }
    if (user?.kind !== 'service' || !user.public_key || body.token === undefined) return false;
    const r = await verifyJwt(body.token, createPublicKey(user.public_key), this.clock);
    return r.ok && r.payload.uid === body.uid;
  }
}
