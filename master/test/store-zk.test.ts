// The ZooKeeper store on a real 3-server ensemble (Debian's zookeeper): the shared contract suite,
// the size limit, 10,000 task records, a corrupt znode, writes refused without a quorum.
import t from 'tap';
import { ZkKvStore } from '../store/zk.js';
import { ZkSession } from '../zk/session.js';
import { StoreCorruptError, StoreUnavailableError, StoreValueTooLargeError } from '../errors.js';
import { startEnsemble, uniqueName } from '../../test/lib/index.js';
import { storeContract } from './store-contract.js';

const ens = await startEnsemble(t, 3);

async function session(t: { teardown(fn: () => unknown): void }, sessionTimeoutMs = 4000): Promise<ZkSession> {
  const s = new ZkSession(ens.url('/'), { sessionTimeoutMs, connectTimeoutMs: 20_000 });
  await s.connect();
  t.teardown(() => s.close());
  return s;
}

async function store(t: { teardown(fn: () => unknown): void }, o: ConstructorParameters<typeof ZkKvStore>[2] = {}) {
  const zk = await session(t);
  const s = new ZkKvStore(zk, `/${uniqueName('st')}`, o);
  await s.open();
  return { s, zk };
}

storeContract(t, 'zookeeper', async (t) => (await store(t)).s);

t.test('zookeeper store: keys are znodes under <chroot>/kv, values JSON; another session reads them', async (t) => {
  const { s } = await store(t);
  await s.put('marathon/apps/group/web', { instances: 3 });
  t.equal(s.pathOf('marathon/apps/group/web'), `${s.root}/marathon/apps/group/web`);
  t.equal(s.pathOf('a/./..'), `${s.root}/a/%2E/%2E%2E`, 'dots escaped');
  const other = await session(t);
  const raw = await other.getData(s.pathOf('marathon/apps/group/web'));
  t.same(JSON.parse(raw.data!.toString()), { instances: 3 });
  const s2 = new ZkKvStore(other, s.root.replace(/\/kv$/, ''));
  t.same(await s2.list('marathon/'), [['marathon/apps/group/web', { instances: 3 }]], 'a second master sees it');
});

t.test('zookeeper store: a value over the limit is refused naming the key and size; nothing written', async (t) => {
  const { s } = await store(t, { maxValueBytes: 1000 });
  await s.put('big', 'small');
  const err = await s.put('big', 'x'.repeat(2000)).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof StoreValueTooLargeError, 'StoreValueTooLargeError');
  t.match((err as Error).message, /store value for big is 2002 bytes, over the limit of 1000 bytes/);
  t.equal(await s.get('big'), 'small', 'old value kept');
  const def = (await store(t)).s;
  t.equal(def.maxValueBytes, 1_000_000, 'default limit under ZooKeeper\'s 1 MiB jute.maxbuffer');
  await def.put('near', 'y'.repeat(999_000));
  t.equal((await def.get<string>('near'))!.length, 999_000, 'a value just under the default limit commits');
});

t.test('zookeeper store: 10,000 task records fit and list back sorted', async (t) => {
  // What is tested is that they fit, not how fast: batches of 500 concurrent creates took over the default
  // per-operation bound (the 4 s session) once at load 14, so this store waits up to 60 s per operation.
  const { s } = await store(t, { opTimeoutMs: 60_000 });
  // A task record as Cluster stores it (master/tasks/<id>), padded to a realistic size.
  const rec = (i: number) => ({ info: { task_id: `group_app.${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`, name: 'app.group', env: { PORT0: '31000', HOST: '127.0.0.2' }, ports: [31000] }, state: 'TASK_RUNNING', statuses: [{ state: 'TASK_RUNNING', timestamp: 1e9 }] });
  const N = 10_000;
  const t0 = Date.now();
  for (let i = 0; i < N; i += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => s.put(`master/tasks/${rec(i + j).info.task_id}`, rec(i + j))));
  const t1 = Date.now();
  const all = await s.list<{ info: { task_id: string } }>('master/tasks/');
  const t2 = Date.now();
  t.equal(all.length, N);
  t.ok(all.every(([k, v], i) => k === `master/tasks/${rec(i).info.task_id}` && v.info.task_id === rec(i).info.task_id), 'every record, in key order');
  t.comment(`10,000 writes ${t1 - t0} ms, list ${t2 - t1} ms`);
});

t.test('zookeeper store: a znode that is not JSON is a StoreCorruptError naming it', async (t) => {
  const { s, zk } = await store(t);
  await s.put('master/tasks/t1', { ok: true });
  await new Promise<void>((res, rej) => zk.client.setData(s.pathOf('master/tasks/t1'), Buffer.from('{"ok": tr'), (e) => (e ? rej(e) : res())));
  const err = await s.get('master/tasks/t1').then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof StoreCorruptError);
  t.match((err as Error).message, s.pathOf('master/tasks/t1'));
  await t.rejects(s.list('master/'), StoreCorruptError, 'list too');
});

t.test('zookeeper store: without a quorum writes fail with StoreUnavailableError; with it back they commit', async (t) => {
  const { s } = await store(t);
  await s.put('k', 1);
  await ens.kill(2);
  await ens.kill(3);
  t.teardown(async () => {
    await ens.restart(2);
    await ens.restart(3);
  });
  const err = await s.put('k', 2).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof StoreUnavailableError, `StoreUnavailableError (got ${String(err)})`);
  t.match((err as Error).message, /store put k: ZooKeeper/);
  await ens.restart(2);
  await ens.restart(3);
  const { s: again } = await store(t);
  const back = new ZkKvStore(await session(t), s.root.replace(/\/kv$/, ''));
  t.equal(await back.get('k'), 1, 'the refused write is not there, the acknowledged one is');
  await back.put('k', 3);
  t.equal(await back.get('k'), 3, 'writes resume');
  t.ok(again);
});
