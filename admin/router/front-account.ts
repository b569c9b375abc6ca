/**
 * Who the nginx front's workers run as when the master is root, and where what they open by path lives.
 * The workers get a system account of their own, `sextant-front` (user and group, no login shell, no home),
 * created here when missing, as a Debian package's postinst does for its daemon: its group is the only one
 * that may pass the runtime directory to Node's socket. Only when the account cannot be created do the
 * workers fall back to nobody/nogroup, logged as an error (then any nogroup process can reach the socket).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';

/** The workers' own account (user and group). */
export const FRONT_USER = 'sextant-front';

/** Who nginx's workers run as when nginx starts as root. */
export interface FrontWorkerUser {
  user: string;
  group: string;
  uid: number;
  gid: number;
}

export interface WorkerUserOptions {
  isRoot?: boolean;
  /** The account to use or create (tests); default FRONT_USER. */
  name?: string;
  /** The useradd binary (tests); default /usr/sbin/useradd. */
  useradd?: string;
}

/** One passwd or group entry by name or id (getent: every NSS source), or undefined. */
function getent(db: 'passwd' | 'group', key: string): string[] | undefined {
  const r = spawnSync('getent', [db, key], { encoding: 'utf8' });
  return r.status === 0 && r.stdout ? r.stdout.trim().split('\n')[0]!.split(':') : undefined;
}

function lookup(name: string): FrontWorkerUser | undefined {
  const pw = getent('passwd', name);
  if (!pw) return undefined;
  const [uid, gid] = [Number(pw[2]), Number(pw[3])];
  if (uid === 0 || gid === 0) return undefined;
  return { user: name, group: getent('group', String(gid))?.[0] ?? String(gid), uid, gid };
}

/** useradd's "cannot lock or update /etc/passwd" / "/etc/group": another useradd (another master starting) may hold it. */
const USERADD_BUSY = new Set([1, 10]);

/** useradd --system for `name`; the error text when it failed and the account is still missing. */
function createAccount(name: string, useradd: string): string | undefined {
  // Its own group (-U), or the group of that name when one is already there (useradd -U refuses then).
  const group = getent('group', name) ? ['--gid', name] : ['--user-group'];
  const args = ['--system', ...group, '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--comment', 'sextant nginx front workers', name];
  let err = '';
  for (let attempt = 0; attempt < 10; attempt++) {
    const r = spawnSync(useradd, args, { encoding: 'utf8' });
    if (r.status === 0 || lookup(name)) return undefined; // made, or made by a master starting beside this one
    err = r.error ? r.error.message : `${useradd} exited ${r.status}: ${(r.stderr || '').trim()}`;
    if (r.status === null || !USERADD_BUSY.has(r.status)) break;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // the lock is held for milliseconds
  }
  return err;
}

/**
 * The unprivileged user nginx's workers run as when the master runs as root: `sextant-front`, created when
 * missing; else (it could not be created) `nobody` with its primary group, logged as an error. Undefined
 * when not root (nginx then runs as this process's user throughout).
 */
export function frontWorkerUser(log: Logger, o: WorkerUserOptions = {}): FrontWorkerUser | undefined {
  if (!(o.isRoot ?? process.getuid?.() === 0)) return undefined;
  const name = o.name ?? FRONT_USER;
  let own = lookup(name);
  if (!own) {
    const err = createAccount(name, o.useradd ?? '/usr/sbin/useradd');
    own = lookup(name);
    if (own) log.info('entry_front_account_created', { user: name, uid: own.uid, gid: own.gid });
    else log.error('entry_front_account_missing', { user: name, err, fallback: 'nobody', why: `nginx's workers run as nobody: any process of nobody's group can reach the entry point's socket; create the system account '${name}' (useradd --system --user-group ${name})` });
  }
  if (own) {
    const members = getent('group', String(own.gid))?.[3];
    if (members) log.warn('entry_front_group_shared', { group: own.group, members, why: `members of '${own.group}' can reach the entry point's socket` });
    return own;
  }
  const nobody = lookup('nobody');
  if (nobody) return nobody;
  throw new ConfigError('--admin-front', `neither '${name}' nor 'nobody' is a user here: nginx's workers must not run as root`);
}

/** Where runtime directories go: SEXTANT_RUN_ROOT (an absolute path), else `/run/sextant`, else under the temp dir. */
export function frontRunRoot(env: NodeJS.ProcessEnv = process.env): string {
  const v = env.SEXTANT_RUN_ROOT;
  if (v !== undefined && v !== '') {
    if (!path.isAbsolute(v)) throw new ConfigError('SEXTANT_RUN_ROOT', `'${v}' is not an absolute path`);
    return path.resolve(v);
  }
  return fs.existsSync('/run') ? '/run/sextant' : path.join(os.tmpdir(), 'sextant-run');
}

/**
 * Where the workers' files go when they run as another user: a directory whose ancestors they can pass
 * (the work dir's own ancestors may be 0700), one per front dir, `front-<12 hex>` under `root`.
 */
export function frontRunDir(dir: string, root = frontRunRoot()): string {
  return path.join(root, `front-${createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 12)}`);
}
