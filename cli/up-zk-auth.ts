/**
 * `sextant up --masters N`'s ZooKeeper credential (#30): `sextant:<random>` in
 * `<work-dir>/zk-auth` (0600), handed to every master as `--zk-auth-file` (never on a command line,
 * where `ps` shows it), reused by a later `up` on the same work dir (the ensemble's data, and so
 * its ACLs, are kept there). Once the ensemble serves, `up` gives its root znode world-READ and
 * ALL for the credential (the ensemble is this cluster's alone: nobody else may create top-level
 * znodes, e.g. squat `/sextant` or `/mesos` before the masters do), and makes `/sextant` (private)
 * and `/mesos` (world-READ: agents and Mesos-DNS read the election) with their ACLs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readZkAuthFile, secureMasterZnodes, ZK, zkCode, ZkSession } from '../master/index.js';

export const ZK_AUTH_USER = 'sextant';

/** The credential file in `workDir`: the existing one when it is usable, else a new one. */
export function zkAuthFile(workDir: string): { file: string; auth: string } {
  const file = join(workDir, 'zk-auth');
  if (existsSync(file)) {
    if (statSync(file).mode & 0o077) throw new Error(`${file} (the ZooKeeper credential) is readable by group or others: chmod 600 it, or remove it with the work dir's zookeeper data`);
    return { file, auth: readZkAuthFile(file, file) };
  }
  const auth = `${ZK_AUTH_USER}:${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${auth}\n`, { mode: 0o600, flag: 'wx' });
  return { file, auth: readFileSync(file, 'utf8').trim() };
}

/** Lock the root znode and make the masters' paths with their ACLs (see above), over `connect` (`host:port,...`). */
export async function lockZkRoot(connect: string, auth: string, chroot: string, mesosPath: string): Promise<void> {
  const s = new ZkSession({ connect, path: '/', auth }, { sessionTimeoutMs: 4000, connectTimeoutMs: 30_000 });
  await s.connect();
  try {
    await new Promise<void>((resolve, reject) =>
      s.client.setACL('/', s.worldReadAcl, -1, (e) =>
        e ? reject(zkCode(e) === ZK.NO_AUTH ? new Error('ZooKeeper refused the credential on / (NoAuth): the ensemble\'s data was locked with another credential (a zk-auth file replaced or removed?)') : e) : resolve(),
      ),
    );
    await secureMasterZnodes(s, chroot, mesosPath);
    await s.mkdirp(chroot, s.acl);
    await s.mkdirp(mesosPath, s.worldReadAcl);
  } finally {
    s.close();
  }
}
