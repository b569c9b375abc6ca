// `sextant up --masters`'s ZooKeeper credential (#30): a 0600 file made once and reused, refused when
// others may read it; on a real ZooKeeper server, the root locked (no anonymous top-level znode),
// /sextant private, /mesos world-readable, and a data dir locked with another credential named.
import t from 'tap';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZK, zkCode, ZkSession } from '../../master/index.js';
import { describeAcl, digestId } from '../../master/zk/acl.js';
import { startEnsemble } from '../../test/lib/index.js';
import { lockZkRoot, zkAuthFile } from '../up-zk-auth.js';

const dir = mkdtempSync(join(tmpdir(), 'up-zk-auth-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('the credential file: made 0600 with a random password, reused, refused when group/others may read it', async (t) => {
  const a = zkAuthFile(dir);
  t.equal(a.file, join(dir, 'zk-auth'));
  t.equal(statSync(a.file).mode & 0o777, 0o600);
  t.match(a.auth, /^sextant:[A-Za-z0-9_-]{32}$/);
  t.equal(readFileSync(a.file, 'utf8'), `${a.auth}\n`);
  t.same(zkAuthFile(dir), a, 'a later up on the same work dir reuses it');
  chmodSync(a.file, 0o644);
  t.throws(() => zkAuthFile(dir), /readable by group or others: chmod 600/);
  chmodSync(a.file, 0o600);
});

t.test('lockZkRoot on a real ZooKeeper: root and /mesos world-READ, /sextant private; another credential is named', async (t) => {
  const ens = await startEnsemble(t, 1);
  const { auth } = zkAuthFile(dir);
  await lockZkRoot(ens.connect, auth, '/sextant', '/mesos');
  await lockZkRoot(ens.connect, auth, '/sextant', '/mesos'); // again: nothing to change, no error
  const anon = new ZkSession({ connect: ens.connect, path: '/' }, { connectTimeoutMs: 20_000 });
  await anon.connect();
  t.teardown(() => anon.close());
  const code = (p: Promise<unknown>) => p.then(() => 0, (e: unknown) => zkCode(e));
  t.equal(await code(anon.create('/evil', Buffer.from('x'))), ZK.NO_AUTH, 'no anonymous top-level znode (no squatting /sextant or /mesos)');
  t.equal(await code(anon.create('/mesos/json.info_0000000000', Buffer.from('x'))), ZK.NO_AUTH, 'no fake leader');
  t.equal(await code(anon.children('/sextant')), ZK.NO_AUTH, '/sextant not listable');
  t.same(await anon.children('/mesos'), [], '/mesos listable');
  const acl = (p: string) => new Promise<string>((res, rej) => anon.client.getACL(p, (e, a) => (e ? rej(e) : res(describeAcl(a)))));
  // ZooKeeper shows an anonymous reader the digest id with its hash masked (`x`).
  t.equal(await acl('/'), 'world:anyone=READ digest:sextant:x=ALL');
  t.equal(await acl('/mesos'), 'world:anyone=READ digest:sextant:x=ALL');
  t.notMatch(await acl('/'), digestId(auth).split(':')[1]!, 'not even the hash');
  await t.rejects(lockZkRoot(ens.connect, 'sextant:another', '/sextant', '/mesos'), /refused the credential on \/ \(NoAuth\).*another credential/);
});
