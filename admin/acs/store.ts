/**
 * Users, service accounts and permission grants, kept in the master's durable store under `acs/`
 * and held in memory for the checks on every request. Each write goes to the store first and to
 * memory once durable, one write at a time; a refused request stores nothing. Only the leading
 * master runs the service, so its memory is the truth; a new leader loads from the store.
 *
 *   acs/users/<uid>           {uid, kind: user|service, description, created, password?, public_key?}
 *   acs/acls/<encoded rid>    {rid, description, users: {uid: [action]}}
 */
import { createPublicKey } from 'node:crypto';
import { SerialQueue, systemClock, type Clock, type Logger } from '../../common/index.js';
import type { Action, KvStore, Permission } from '../../contracts/index.js';
import { aclExists, AcsError, invalidData, unknownAcl, unknownUser, userExists } from './errors.js';
import { actionAllows, coveringResources, isRid, isUid, SUPERUSER_RESOURCE } from './ids.js';
import { DEFAULT_SCRYPT, hashPassword, type PasswordHash, type ScryptParams } from './password.js';
import { checkAclRecord, checkUserRecord } from './schema.js';

export interface UserRecord {
  uid: string;
  kind: 'user' | 'service';
  description: string;
  /** ms since the epoch; tokens issued before it are not this account's. */
  created: number;
  password?: PasswordHash;
  public_key?: string;
}

export interface AclRecord {
  rid: string;
  description: string;
  users: Record<string, Action[]>;
}

export interface IdentityStoreOptions {
  clock?: Clock;
  log?: Logger;
  scrypt?: ScryptParams;
  /** Bound on accounts and on ACLs (default 10000 each): a full store refuses with 400. */
  maxEntries?: number;
}

const USERS = 'acs/users/';
const ACLS = 'acs/acls/';
const userKey = (uid: string) => USERS + uid;
const aclKey = (rid: string) => ACLS + encodeURIComponent(rid);

export class IdentityStore {
  private readonly users = new Map<string, UserRecord>();
  private readonly acls = new Map<string, AclRecord>();
  private readonly writes = new SerialQueue();
  private loading?: Promise<void>;
  private readonly clock: Clock;
  private readonly maxEntries: number;

  constructor(
    private readonly kv: KvStore,
    private readonly opts: IdentityStoreOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.maxEntries = opts.maxEntries ?? 10_000;
  }

  /** Reads everything once (later calls share the first load). */
  load(): Promise<void> {
    return (this.loading ??= this.loadOnce().catch((e) => {
      this.loading = undefined;
      throw e;
    }));
  }

  private async loadOnce(): Promise<void> {
    for (const [key, v] of await this.kv.list(USERS)) {
      const bad = checkUserRecord.errors(v);
      if (bad.length || key !== userKey((v as UserRecord).uid)) this.opts.log?.warn('stored_record_invalid', { key, details: bad });
      else this.users.set((v as UserRecord).uid, v as UserRecord);
    }
    for (const [key, v] of await this.kv.list(ACLS)) {
      const bad = checkAclRecord.errors(v);
      if (bad.length || key !== aclKey((v as AclRecord).rid)) this.opts.log?.warn('stored_record_invalid', { key, details: bad });
      else this.acls.set((v as AclRecord).rid, v as AclRecord);
    }
  }

  user(uid: string): UserRecord | undefined {
    return this.users.get(uid);
  }
  listUsers(): UserRecord[] {
    return [...this.users.values()].sort((a, b) => a.uid.localeCompare(b.uid));
  }
  get userCount(): number {
    return this.users.size;
  }
  acl(rid: string): AclRecord | undefined {
    return this.acls.get(rid);
  }
  listAcls(): AclRecord[] {
    return [...this.acls.values()].sort((a, b) => a.rid.localeCompare(b.rid));
  }

  /** Create a user (password) or a service account (public_key). */
  async createUser(uid: string, body: { password?: string; public_key?: string; description?: string }): Promise<UserRecord> {
    checkUid(uid);
    const publicKey = body.public_key === undefined ? undefined : checkPublicKey(body.public_key);
    return this.writes.run(async () => {
      if (this.users.has(uid)) throw userExists(uid);
      if (this.users.size >= this.maxEntries) throw invalidData(`the cluster holds ${this.users.size} accounts, the most allowed`);
      const rec: UserRecord = {
        uid,
        kind: publicKey ? 'service' : 'user',
        description: body.description ?? '',
        created: this.clock.now(),
        ...(body.password !== undefined ? { password: await hashPassword(body.password, this.opts.scrypt ?? DEFAULT_SCRYPT) } : {}),
        ...(publicKey ? { public_key: publicKey } : {}),
      };
      await this.kv.put(userKey(uid), rec);
      this.users.set(uid, rec);
      return rec;
    });
  }

  async patchUser(uid: string, body: { password?: string; public_key?: string; description?: string }): Promise<UserRecord> {
    const publicKey = body.public_key === undefined ? undefined : checkPublicKey(body.public_key);
    return this.writes.run(async () => {
      const old = this.users.get(uid);
      if (!old) throw unknownUser(uid);
      if (body.password !== undefined && old.kind !== 'user') throw invalidData(`\`${uid}\` is a service account: it has a public key, not a password`);
      if (publicKey && old.kind !== 'service') throw invalidData(`\`${uid}\` is a user: it has a password, not a public key`);
      const rec: UserRecord = {
        ...old,
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.password !== undefined ? { password: await hashPassword(body.password, this.opts.scrypt ?? DEFAULT_SCRYPT) } : {}),
        ...(publicKey ? { public_key: publicKey } : {}),
      };
      await this.kv.put(userKey(uid), rec);
      this.users.set(uid, rec);
      return rec;
    });
  }

  /** Delete an account and every grant it holds. */
  async deleteUser(uid: string): Promise<void> {
    return this.writes.run(async () => {
      if (!this.users.has(uid)) throw unknownUser(uid);
      this.keepASuperuser((u) => u !== uid, `deleting \`${uid}\``);
      await this.kv.delete(userKey(uid));
      this.users.delete(uid);
      for (const a of this.acls.values()) {
        if (!(uid in a.users)) continue;
        const { [uid]: _gone, ...rest } = a.users;
        const next = { ...a, users: rest };
        await this.kv.put(aclKey(a.rid), next);
        this.acls.set(a.rid, next);
      }
    });
  }

  async createAcl(rid: string, description = ''): Promise<AclRecord> {
    checkRid(rid);
    return this.writes.run(async () => {
      if (this.acls.has(rid)) throw aclExists(rid);
      return this.putAcl({ rid, description, users: {} });
    });
  }

  async deleteAcl(rid: string): Promise<void> {
    return this.writes.run(async () => {
      if (!this.acls.has(rid)) throw unknownAcl(rid);
      if (rid === SUPERUSER_RESOURCE) this.keepASuperuser(() => false, `deleting the ACL ${rid}`);
      await this.kv.delete(aclKey(rid));
      this.acls.delete(rid);
    });
  }

  /** Grant `action` on `rid` to `uid`; the ACL is created when it does not exist yet. */
  async grant(rid: string, uid: string, action: Action): Promise<void> {
    checkRid(rid);
    return this.writes.run(async () => {
      if (!this.users.has(uid)) throw unknownUser(uid);
      const a = this.acls.get(rid) ?? { rid, description: '', users: {} };
      const held = a.users[uid] ?? [];
      if (held.includes(action) && this.acls.has(rid)) return;
      await this.putAcl({ ...a, users: { ...a.users, [uid]: [...new Set([...held, action])].sort() } });
    });
  }

  /** Revoke `action` on `rid` from `uid` (nothing to do when not held). */
  async revoke(rid: string, uid: string, action: Action): Promise<void> {
    return this.writes.run(async () => {
      const a = this.acls.get(rid);
      if (!a) throw unknownAcl(rid);
      const held = a.users[uid];
      if (!held?.includes(action)) {
        if (!this.users.has(uid)) throw unknownUser(uid);
        return;
      }
      if (rid === SUPERUSER_RESOURCE && action === 'full') this.keepASuperuser((u) => u !== uid, `revoking ${rid} full from \`${uid}\``);
      const left = held.filter((x) => x !== action);
      const { [uid]: _old, ...rest } = a.users;
      await this.putAcl({ ...a, users: left.length ? { ...rest, [uid]: left } : rest });
    });
  }

  private async putAcl(a: AclRecord): Promise<AclRecord> {
    if (!this.acls.has(a.rid) && this.acls.size >= this.maxEntries) throw invalidData(`the cluster holds ${this.acls.size} ACLs, the most allowed`);
    await this.kv.put(aclKey(a.rid), a);
    this.acls.set(a.rid, a);
    return a;
  }

  /** Every ACL naming `uid`, with its actions. */
  grantsOf(uid: string): { rid: string; description: string; actions: Action[] }[] {
    return this.listAcls().flatMap((a) => (a.users[uid]?.length ? [{ rid: a.rid, description: a.description, actions: a.users[uid]! }] : []));
  }

  /** Refuses a change that would leave no superuser (no one could administer the cluster again). */
  private keepASuperuser(stays: (uid: string) => boolean, what: string): void {
    const su = Object.keys(this.acls.get(SUPERUSER_RESOURCE)?.users ?? {}).filter((u) => this.users.has(u) && this.isSuperuser(u));
    if (su.length > 0 && !su.some(stays)) throw new AcsError(409, 'ERR_LAST_SUPERUSER', `${what} would leave the cluster without a superuser; make another superuser first`);
  }

  isSuperuser(uid: string): boolean {
    return actionAllows(this.acls.get(SUPERUSER_RESOURCE)?.users[uid] ?? [], 'full');
  }

  /** Whether `uid` holds the permission: superuser, or a grant on the resource or one covering it. */
  holds(uid: string, p: Permission): boolean {
    if (this.isSuperuser(uid)) return true;
    return coveringResources(p.resource).some((rid) => actionAllows(this.acls.get(rid)?.users[uid] ?? [], p.action));
  }

  /** Resolves once every write queued so far is done. */
  idle(): Promise<void> {
    return this.writes.idle();
  }
}

function checkUid(uid: string): void {
  if (!isUid(uid)) throw invalidData(`uid \`${uid.slice(0, 100)}\` is not valid: letters, digits and @ . _ - only, starting with a letter or digit, at most 96 characters`);
}

function checkRid(rid: string): void {
  if (!isRid(rid)) throw invalidData(`resource id \`${rid.slice(0, 100)}\` is not valid: \`:\`-separated words of letters, digits and _ . @ -, the last may be a path /a/b; at most 512 characters`);
}

/** An RSA public key of at least 2048 bits, returned as SPKI PEM. */
function checkPublicKey(pem: string): string {
  let key;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw invalidData(`public_key is not a PEM public key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw invalidData(`public_key is a ${key.asymmetricKeyType} key; service accounts use RSA keys (RS256)`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048) throw invalidData(`public_key has ${bits} bits; at least 2048 are needed`);
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

export { checkUid, checkRid };
