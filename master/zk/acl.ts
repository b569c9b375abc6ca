/**
 * ZooKeeper ACLs for the masters' znodes (#30). With a digest credential (`user:password`, from
 * the zk:// URL or --zk-auth-file) the masters' own znodes (the store, the Marathon leader) carry
 * one ACL: ALL for that digest identity, nothing for `world`; the leader-election znodes under
 * /mesos stay world-READ (Mesos-DNS, agents and the reference mesos-dns read them without a
 * credential) with ALL for the identity, as Mesos does with `--zk` credentials. Without a
 * credential, ZooKeeper's open ACL as before.
 * `secureTree` moves the znodes an older, open cluster left to these ACLs on takeover.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import zookeeper from 'node-zookeeper-client';
import type { Logger } from '../../common/index.js';
import { ConfigError } from '../../common/index.js';

const { ACL, Id, Permission } = zookeeper;
export type ZkAcl = zookeeper.ACL;

/** The permission bits of an ACL (the client's field is `permission`; its typings say `perms`). */
export function permsOf(a: ZkAcl): number {
  return (a as unknown as { permission: number }).permission;
}

/** ZooKeeper's open ACL (ALL for world:anyone): the default of a znode created without one. */
export const OPEN_ACL: ZkAcl[] = [new ACL(Permission.ALL, new Id('world', 'anyone'))];

/** Check a digest credential: `user:password`, user without `:`, both non-empty, one line. */
export function checkZkAuth(auth: string, field: string): string {
  const i = auth.indexOf(':');
  if (i <= 0 || i === auth.length - 1 || /[\s]/.test(auth)) throw new ConfigError(field, 'the ZooKeeper credential must be user:password (non-empty, no whitespace)');
  return auth;
}

/** ZooKeeper's digest id of `user:password`: `user:base64(sha1(user:password))`. */
export function digestId(auth: string): string {
  const user = auth.slice(0, auth.indexOf(':'));
  return `${user}:${createHash('sha1').update(auth).digest('base64')}`;
}

/** ALL for the credential's identity only (no credential: open). */
export function privateAcl(auth: string | undefined): ZkAcl[] {
  return auth ? [new ACL(Permission.ALL, new Id('digest', digestId(auth)))] : OPEN_ACL;
}

/** world READ, ALL for the credential's identity (no credential: open). */
export function worldReadAcl(auth: string | undefined): ZkAcl[] {
  return auth ? [new ACL(Permission.READ, new Id('world', 'anyone')), ...privateAcl(auth)] : OPEN_ACL;
}

/** A readable form for logs and errors: `digest:user:…=ALL world:anyone=READ` (the digest id is a hash, not the password). */
export function describeAcl(acls: ZkAcl[]): string {
  const perm = (p: number) => (p === Permission.ALL ? 'ALL' : [['READ', Permission.READ], ['WRITE', Permission.WRITE], ['CREATE', Permission.CREATE], ['DELETE', Permission.DELETE], ['ADMIN', Permission.ADMIN]].filter(([, b]) => p & (b as number)).map(([n]) => n).join('|'));
  return acls.map((a) => `${a.id.scheme}:${a.id.id}=${perm(permsOf(a))}`).join(' ');
}

/** describeAcl with digest hashes cut (`digest:sextant:…=ALL`): for log lines and errors, which carry no part of the credential. */
export function describeAclMasked(acls: ZkAcl[]): string {
  return describeAcl(acls).replace(/(digest:[^:\s]+:)\S+?=/g, '$1…=');
}

export function sameAcl(a: ZkAcl[], b: ZkAcl[]): boolean {
  const key = (l: ZkAcl[]) => l.map((x) => `${x.id.scheme}:${x.id.id}:${permsOf(x)}`).sort().join(',');
  return key(a) === key(b);
}

type Cb<T> = (e: Error | zookeeper.Exception | null, v: T) => void;
const call = <T>(fn: (cb: Cb<T>) => void) => new Promise<T>((resolve, reject) => fn((e, v) => (e ? reject(e) : resolve(v))));
const NO_NODE = zookeeper.Exception.NO_NODE;
const code = (e: unknown) => (e instanceof zookeeper.Exception ? e.getCode() : undefined);

/** The znode's ACL, or undefined when it does not exist. */
export async function aclOf(client: zookeeper.Client, path: string): Promise<ZkAcl[] | undefined> {
  try {
    return await call<ZkAcl[]>((cb) => client.getACL(path, (e, acls) => cb(e, acls)));
  } catch (e) {
    if (code(e) === NO_NODE) return undefined;
    throw e;
  }
}

/**
 * Give `path` and every znode below it the ACL `acl`, when `path` does not have it yet: the
 * znodes below first, `path` last, so an interrupted pass is done again on the next takeover
 * (a znode that has the ACL is where this stops looking). Returns how many znodes were changed.
 * A znode this identity may not change (an ACL of another identity) fails with ZooKeeper's
 * NoAuth, which the caller reports.
 */
export async function secureTree(client: zookeeper.Client, path: string, acl: ZkAcl[], log?: Logger): Promise<number> {
  const now = await aclOf(client, path);
  if (!now || sameAcl(now, acl)) return 0;
  const order: string[] = [];
  let level = [path];
  while (level.length) {
    order.push(...level);
    const next: string[] = [];
    for (const p of level) {
      const kids = await call<string[]>((cb) => client.getChildren(p, cb)).catch((e: unknown) => (code(e) === NO_NODE ? [] : Promise.reject(e)));
      next.push(...kids.map((k) => `${p === '/' ? '' : p}/${k}`));
    }
    level = next;
  }
  let changed = 0;
  for (const p of order.reverse()) {
    try {
      await call<unknown>((cb) => client.setACL(p, acl, -1, cb));
      changed++;
    } catch (e) {
      if (code(e) !== NO_NODE) throw e;
    }
  }
  log?.warn('zk_acl_secured', { path, znodes: changed, acl: describeAclMasked(acl), was: describeAclMasked(now), why: 'znodes an open (older) cluster created: they now carry the credential\'s ACL' });
  return changed;
}

/**
 * On takeover, with a credential: the store and Marathon znodes under `chroot` get the private ACL
 * and the election path `mesosPath` the world-READ one (znodes an older open cluster left). A
 * NoAuth answer (the znodes belong to another identity, or this is the wrong credential) is an
 * error saying so.
 */
export async function secureMasterZnodes(session: { client: zookeeper.Client; acl: ZkAcl[]; worldReadAcl: ZkAcl[]; target: { auth?: string } }, chroot: string, mesosPath: string, log?: Logger): Promise<void> {
  if (!session.target.auth) return;
  const base = chroot === '/' ? '' : chroot;
  const jobs: [string, ZkAcl[]][] = [...(base ? [[base, session.acl] as [string, ZkAcl[]]] : [[`/kv`, session.acl], [`/marathon`, session.acl]] as [string, ZkAcl[]][]), [mesosPath, session.worldReadAcl]];
  for (const [path, acl] of jobs) {
    try {
      await secureTree(session.client, path, acl, log);
    } catch (e) {
      if (code(e) === zookeeper.Exception.NO_AUTH)
        throw new Error(`ZooKeeper refused this master's credential on ${path} (NoAuth): its znodes belong to another identity; give the credential the cluster was created with (--zk-auth-file or zk://user:password@...)`, { cause: e });
      throw e;
    }
  }
}

/**
 * Read `--zk-auth-file`: one line `user:password`, a regular file of mode 0600 or stricter (no
 * access for group or others); anything else is a ConfigError naming `flag` and the problem.
 */
export function readZkAuthFile(file: string, flag = '--zk-auth-file'): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new ConfigError(flag, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!st.isFile()) throw new ConfigError(flag, `${file} is not a regular file`);
  if (st.mode & 0o077) throw new ConfigError(flag, `${file} is mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}: group or others may read the ZooKeeper credential; chmod 600 ${file}`);
  const text = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  if (text.includes('\n')) throw new ConfigError(flag, `${file} has more than one line (want one line user:password)`);
  return checkZkAuth(text, flag);
}
