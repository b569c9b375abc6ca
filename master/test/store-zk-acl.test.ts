// ZooKeeper behind digest ACLs (#30), on a real ZooKeeper server (Debian's zookeeper), seen from
// the attacker's side: an anonymous client (or one with a wrong password) gets NoAuth reading,
// listing, writing, creating and deleting the masters' records, and cannot add or remove an
// election znode, but still reads the leader under /mesos (Mesos-DNS, agents); the store with the
// credential passes the store contract; an open tree an older cluster left is secured on takeover;
// a master with the wrong credential is told so.
import t from 'tap';
import zookeeper from 'node-zookeeper-client';
import { createLogger, createRegistry } from '../../common/index.js';
import { ZkDetector, ZkMetrics } from '../../dns/index.js';
import { masterInfo, ZkElection } from '../election.js';
import { ZkKvStore } from '../store/zk.js';
import { aclOf, describeAcl, digestId, OPEN_ACL, secureMasterZnodes } from '../zk/acl.js';
import { checkZkAccess } from '../zk/access.js';
import { ZkSession, ZK, zkCode } from '../zk/session.js';
import { startEnsemble, uniqueName } from '../../test/lib/index.js';
import { storeContract } from './store-contract.js';

const ens = await startEnsemble(t, 1);
const log = createLogger('zk-acl-test');
const AUTH = 'sextant:s3cret-for-the-test';
type TD = { teardown(fn: () => unknown): void };

async function session(t: TD, auth?: string): Promise<ZkSession> {
  const s = new ZkSession({ connect: ens.connect, path: '/', ...(auth ? { auth } : {}) }, { sessionTimeoutMs: 4000, connectTimeoutMs: 20_000 });
  await s.connect();
  t.teardown(() => s.close());
  return s;
}

async function store(t: TD, chroot = `/${uniqueName('acl')}`) {
  const zk = await session(t, AUTH);
  const s = new ZkKvStore(zk, chroot);
  await s.open();
  return { s, zk, chroot };
}

/** The ZooKeeper error code of an operation (0 when it succeeded). */
async function codeOf(p: Promise<unknown>): Promise<number> {
  return p.then(() => 0, (e: unknown) => zkCode(e) ?? -1);
}

const names = (c: number) => (c === ZK.NO_AUTH ? 'NoAuth' : c === 0 ? 'ok' : `code ${c}`);

storeContract(t, 'zookeeper with a digest credential', async (t) => (await store(t)).s);

t.test('every znode the store creates carries ALL for the credential and nothing for world', async (t) => {
  const { s, zk, chroot } = await store(t);
  await s.put('marathon/apps/web', { instances: 2 });
  const want = `digest:${digestId(AUTH)}=ALL`;
  for (const p of [chroot, s.root, `${s.root}/marathon`, `${s.root}/marathon/apps`, s.pathOf('marathon/apps/web')]) t.equal(describeAcl((await aclOf(zk.client, p))!), want, p);
  t.notMatch(want, /s3cret/, 'the ACL holds a hash, not the password');
});

t.test('an anonymous client and a wrong password get NoAuth on every read and write of the records', async (t) => {
  const { s } = await store(t);
  await s.put('agents/a1', { secret_hash: 'h' });
  const key = s.pathOf('agents/a1');
  for (const [who, zk] of [['anonymous', await session(t)], ['wrong password', await session(t, 'sextant:guess')]] as const) {
    const c = zk.client;
    const ops: [string, Promise<unknown>][] = [
      ['getData record', zk.getData(key)],
      ['list the store', zk.children(s.root)],
      ['list below', zk.children(`${s.root}/agents`)],
      ['setData record', new Promise((res, rej) => c.setData(key, Buffer.from('{"secret_hash":"mine"}'), -1, (e) => (e ? rej(e) : res(undefined))))],
      ['create record', zk.create(`${s.root}/agents/a2`, Buffer.from('{}'), zookeeper.CreateMode.PERSISTENT, OPEN_ACL)],
      ['delete record', zk.remove(key)],
      ['setACL record', new Promise((res, rej) => c.setACL(key, OPEN_ACL, -1, (e) => (e ? rej(e) : res(undefined))))],
      ['getACL record', aclOf(c, key)],
    ];
    for (const [what, p] of ops) t.equal(names(await codeOf(p)), 'NoAuth', `${who}: ${what}`);
  }
  t.same(await s.get('agents/a1'), { secret_hash: 'h' }, 'the record is untouched');
  t.same(await s.list('agents/'), [['agents/a1', { secret_hash: 'h' }]], 'nothing added');
});

t.test('the election under /mesos: world-readable (a credential-less Mesos-DNS finds the leader), not writable', async (t) => {
  const mesos = `/${uniqueName('mesos')}`;
  const zk = await session(t, AUTH);
  const e = new ZkElection({ session: zk, path: mesos, info: masterInfo({ id: 'm1', ip: '127.0.0.9', port: 5050 }), log, registry: createRegistry() });
  await e.start();
  t.teardown(() => e.stop());
  const mine = e.znode!;
  t.equal(describeAcl((await aclOf(zk.client, mine))!), `world:anyone=READ digest:${digestId(AUTH)}=ALL`);
  const anon = await session(t);
  t.same(await anon.children(mesos), [mine.slice(mesos.length + 1)], 'anonymous lists the election');
  t.match(JSON.parse((await anon.getData(mine)).data!.toString()), { address: { ip: '127.0.0.9', port: 5050 } }, 'and reads the leader');
  // An attacker must not add a lower-sequence fake leader, nor remove the real one.
  const fake = Buffer.from(JSON.stringify(masterInfo({ id: 'evil', ip: '127.0.0.66', port: 5050 })));
  t.equal(names(await codeOf(anon.create(`${mesos}/json.info_0000000000`, fake, zookeeper.CreateMode.PERSISTENT, OPEN_ACL))), 'NoAuth', 'no fake leader znode');
  t.equal(names(await codeOf(anon.remove(mine))), 'NoAuth', 'no removing the leader');
  t.equal(names(await codeOf(new Promise((res, rej) => anon.client.setData(mine, fake, -1, (err) => (err ? rej(err) : res(undefined)))))), 'NoAuth', 'no rewriting the leader');
  // Mesos-DNS's detector, with no credential, follows the leader.
  const leader = await new Promise<string | undefined>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the anonymous detector saw no leader in 20 s')), 20_000);
    const d = new ZkDetector({ url: `zk://${ens.connect}${mesos}`, log, metrics: new ZkMetrics(createRegistry()), sessionTimeoutMs: 4000, onChange: (v) => v.leader && (clearTimeout(timer), resolve(v.leader)) });
    t.teardown(() => d.stop());
    d.start();
  });
  t.equal(leader, '127.0.0.9:5050');
});

t.test('takeover secures an open tree an older cluster left: records kept, then NoAuth for anonymous', async (t) => {
  const chroot = `/${uniqueName('old')}`;
  const mesos = `/${uniqueName('mesos')}`;
  // The older cluster: no credential, open ACLs everywhere.
  const old = await session(t);
  const oldStore = new ZkKvStore(old, chroot);
  await oldStore.open();
  await oldStore.put('marathon/apps/web', { instances: 1 });
  await oldStore.put('master/users/admin', { hash: 'scrypt...' });
  await old.mkdirp(`${chroot}/marathon`);
  await old.create(`${chroot}/marathon/leader`, Buffer.from('127.0.0.1:8080'), zookeeper.CreateMode.PERSISTENT);
  await old.mkdirp(mesos);
  t.equal(describeAcl((await aclOf(old.client, oldStore.pathOf('master/users/admin')))!), 'world:anyone=ALL', 'open before');
  // The new leader, with the credential.
  const zk = await session(t, AUTH);
  await secureMasterZnodes(zk, chroot, mesos, log);
  const s = new ZkKvStore(zk, chroot);
  t.same(await s.list(''), [['marathon/apps/web', { instances: 1 }], ['master/users/admin', { hash: 'scrypt...' }]], 'every record kept');
  const anon = await session(t);
  for (const p of [chroot, `${chroot}/kv`, oldStore.pathOf('master/users/admin'), `${chroot}/marathon/leader`]) t.equal(names(await codeOf(anon.getData(p))), 'NoAuth', `anonymous read of ${p}`);
  t.equal(names(await codeOf(anon.create(`${mesos}/json.info_0000000000`, Buffer.from('{}'), zookeeper.CreateMode.PERSISTENT, OPEN_ACL))), 'NoAuth', `${mesos}: no anonymous create`);
  t.same(await anon.children(mesos), [], `${mesos} still world-readable`);
  // A second takeover finds the ACLs in place and changes nothing (a znode set again bumps its aversion).
  const before = await new Promise<number>((res, rej) => zk.client.exists(chroot, (e, st) => (e ? rej(e) : res(st!.aversion))));
  await secureMasterZnodes(zk, chroot, mesos, log);
  t.equal(await new Promise<number>((res, rej) => zk.client.exists(chroot, (e, st) => (e ? rej(e) : res(st!.aversion)))), before, 'nothing set the second time');
});

t.test('a master with the wrong credential (or none) is refused on takeover with a clear error', async (t) => {
  const { s, chroot } = await store(t);
  await s.put('k', 1);
  const mesos = `/${uniqueName('mesos')}`;
  const wrong = await session(t, 'sextant:not-the-one');
  await t.rejects(secureMasterZnodes(wrong, chroot, mesos, log), /refused this master's credential on .* \(NoAuth\).*another identity/);
  const none = await session(t);
  await t.rejects(new ZkKvStore(none, chroot).get('k'), { message: /NoAuth|-102/ }, 'a master without a credential cannot read the store');
});

t.test('after a reconnection, requests made while the connection was down carry the credential (no NoAuth)', async (t) => {
  const { s, zk } = await store(t);
  await s.put('agents/a1', { v: 1 });
  const cm = (zk.client as unknown as { connectionManager: { socket: { destroy(): void }; credentials: unknown[] } }).connectionManager;
  for (let round = 1; round <= 3; round++) {
    // Issued the moment the client sees the connection gone: queued before the new connection's auth packet.
    const queued = new Promise<unknown>((resolve) => {
      const read = () => zk.getData(s.pathOf('agents/a1')).then((r) => JSON.parse(String(r.data)) as unknown, (e: unknown) => `ZooKeeper code ${zkCode(e)}`);
      const on = (st: string) => st === 'disconnected' && (zk.off('state', on), resolve(read()));
      zk.on('state', on);
    });
    cm.socket.destroy();
    const got = await queued;
    t.same(got, { v: 1 }, `round ${round}: a read queued while disconnected is answered, not NoAuth`);
    await s.put('agents/a1', { v: 1 });
  }
  t.equal(cm.credentials.length, 1, 'the credential is held once, not once per reconnection');
});

t.test('checkZkAccess (before contending): asks, changes nothing, names the znode and the credential', async (t) => {
  const chroot = `/${uniqueName('pre')}`;
  const mesos = `/${uniqueName('mesos')}`;
  const [anon, right, wrong] = [await session(t), await session(t, AUTH), await session(t, 'sextant:guess')];
  for (const s of [anon, right, wrong]) await checkZkAccess(s, chroot, mesos); // a fresh tree: anyone may start it
  t.notOk(await right.exists(chroot), 'nothing created by the check');
  const s = new ZkKvStore(right, chroot);
  await s.open();
  await checkZkAccess(right, chroot, mesos);
  await t.rejects(checkZkAccess(wrong, chroot, mesos), /refuses this master the store \(\/.*\): \/.*\/kv is locked to another identity.*credential \(user 'sextant'.*is not the one it was locked with/);
  await t.rejects(checkZkAccess(anon, chroot, mesos), /has no credential: give it --zk-auth-file/);
  // The election locked (world READ), the store not yet made: the election is named, the hash is not shown.
  const chroot2 = `/${uniqueName('pre')}`;
  await right.mkdirp(mesos, right.worldReadAcl);
  const e = await checkZkAccess(anon, chroot2, mesos).then(() => undefined, (err: Error) => err.message);
  t.match(e, new RegExp(`refuses this master the election \\(${mesos}\\): ${mesos} is locked to world:anyone=READ digest:sextant:…=ALL; this master has no credential`));
  t.notMatch(e, digestId(AUTH).split(':')[1]!, 'not the digest hash');
  await checkZkAccess(right, chroot2, mesos);
});
