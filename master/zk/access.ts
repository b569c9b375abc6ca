/**
 * Before a master contends (#30): may its identity (its digest credential, or none) use the store
 * under the chroot and join the election? Asked of ZooKeeper with `exists` and `getACL` only, so
 * a master with the wrong credential, or none, against a tree locked to another one stops at once
 * with an error naming the znode, what it is locked to and what this master has, and changes
 * nothing (without this it would fail later, on its first create, with ZooKeeper's bare NoAuth).
 * Only ACL entries of the `world` and `digest` schemes are judged: a tree that grants by another
 * scheme (ip, sasl, x509) is left for ZooKeeper to decide.
 */
import zookeeper from 'node-zookeeper-client';
import { describeAclMasked, digestId, permsOf, type ZkAcl } from './acl.js';

const { Permission } = zookeeper;
type Cb<T> = (e: Error | zookeeper.Exception | null, v: T) => void;
const call = <T>(fn: (cb: Cb<T>) => void) => new Promise<T>((resolve, reject) => fn((e, v) => (e ? reject(e) : resolve(v))));
const code = (e: unknown) => (e instanceof zookeeper.Exception ? e.getCode() : undefined);

export interface AccessSession {
  client: zookeeper.Client;
  target: { auth?: string };
}

/** The parents of `path`, nearest first (`/a/b/c` -> `/a/b`, `/a`, `/`). */
function parents(path: string): string[] {
  const out: string[] = [];
  for (let p = path; p !== '/'; ) {
    p = p.slice(0, p.lastIndexOf('/')) || '/';
    out.push(p);
  }
  return out;
}

/** Whether `acl` grants every bit of `perm` to this identity: true, false, or undefined (another scheme might). */
export function grants(acl: ZkAcl[], auth: string | undefined, perm: number): boolean | undefined {
  const mine = auth ? digestId(auth) : undefined;
  let other = false;
  for (const a of acl) {
    if ((permsOf(a) & perm) !== perm) continue;
    if (a.id.scheme === 'world' && a.id.id === 'anyone') return true;
    if (a.id.scheme === 'digest' && mine !== undefined && a.id.id === mine) return true; // masked (`user:x`) when we lack ADMIN: not ours
    if (a.id.scheme !== 'world' && a.id.scheme !== 'digest') other = true;
  }
  return other ? undefined : false;
}

/**
 * Check that this session may use `target` (`perm` on it when it exists, CREATE on its nearest
 * existing parent when not). Throws an Error naming the znode and the credential otherwise.
 */
async function checkOne(s: AccessSession, target: string, perm: number, what: string): Promise<void> {
  let node = target;
  for (const p of [target, ...parents(target)]) {
    node = p;
    if (await call<zookeeper.Stat | null>((cb) => s.client.exists(p, cb))) break;
  }
  const need = node === target ? perm : Permission.CREATE;
  const auth = s.target.auth;
  const who = auth
    ? `this master's credential (user '${auth.slice(0, auth.indexOf(':'))}', from --zk-auth-file or the --zk URL) is not the one it was locked with`
    : 'this master has no credential: give it --zk-auth-file FILE (sextant up --masters keeps it in <work-dir>/zk-auth)';
  let acl: ZkAcl[];
  try {
    acl = await call<ZkAcl[]>((cb) => s.client.getACL(node, (e, a) => cb(e, a)));
  } catch (e) {
    if (code(e) !== zookeeper.Exception.NO_AUTH) throw e;
    throw new Error(`ZooKeeper refuses this master ${what}: ${node} is locked to another identity (even its ACL is not readable: NoAuth); ${who}. Nothing was changed`);
  }
  if (grants(acl, auth, need) === false)
    throw new Error(`ZooKeeper refuses this master ${what}: ${node} is locked to ${describeAclMasked(acl)}; ${who}. Nothing was changed`);
}

/** The store (`<chroot>/kv`) and the election path: see the top of this file. */
export async function checkZkAccess(s: AccessSession, chroot: string, mesosPath: string): Promise<void> {
  const base = chroot === '/' ? '' : chroot;
  const { READ, WRITE, CREATE, DELETE } = Permission;
  await checkOne(s, `${base}/kv`, READ | WRITE | CREATE | DELETE, `the store (${base || '/'})`);
  await checkOne(s, mesosPath, READ | CREATE, `the election (${mesosPath})`);
}
