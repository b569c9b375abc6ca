// Group commit in the ZooKeeper store (master/store/zk.ts) on a real 3-server ensemble: concurrent
// puts of existing keys become a few fenced multi-ops, each put resolved only once its batch
// committed; a batch whose fence is gone commits nothing and fails every put in it; a batch with a
// znode deleted behind the store's back falls back to one write per put.
import t from 'tap';
import { ZkKvStore } from '../store/zk.js';
import { CreateMode, ZkSession } from '../zk/session.js';
import { NotLeaderError } from '../errors.js';
import { startEnsemble, uniqueName } from '../../test/lib/index.js';

const ens = await startEnsemble(t, 3);

async function session(t: { teardown(fn: () => unknown): void }): Promise<ZkSession> {
  const s = new ZkSession(ens.url('/'), { sessionTimeoutMs: 4000, connectTimeoutMs: 20_000 });
  await s.connect();
  t.teardown(() => s.close());
  return s;
}

const N = 100;
const keys = Array.from({ length: N }, (_, i) => `master/agents/a${i}`);

async function seeded(t: { teardown(fn: () => unknown): void }, fence?: ZkKvStore['fence']) {
  const zk = await session(t);
  const s = new ZkKvStore(zk, `/${uniqueName('batch')}`, fence ? { fence } : {});
  await s.open();
  for (const k of keys) await s.put(k, { v: 0 }); // new keys: one write each (create)
  return s;
}

t.test('concurrent puts of existing keys go out as a few multi-ops; each is committed when it resolves', async (t) => {
  const s = await seeded(t);
  const before = { ...s.batches };
  const other = await session(t);
  // Each put, once resolved, is read back through another session: acknowledged only after commit.
  const seen = await Promise.all(
    keys.map((k, i) =>
      s.put(k, { v: i + 1 }).then(async () => JSON.parse((await other.getData(s.pathOf(k))).data!.toString()) as { v: number }),
    ),
  );
  t.same(seen.map((x) => x.v), keys.map((_, i) => i + 1), 'every put visible to another session once it resolved');
  const sent = s.batches.sent - before.sent;
  t.equal(s.batches.puts - before.puts, N, `all ${N} puts batched`);
  t.ok(sent >= 1 && sent <= N / 10, `${N} puts in ${sent} multi-ops`);
});

t.test('a batch whose fence znode is gone commits nothing: every put in it fails with NotLeaderError', async (t) => {
  const owner = await session(t);
  const fencePath = `/${uniqueName('fence')}`;
  await owner.create(fencePath, Buffer.from('x'), CreateMode.EPHEMERAL);
  const s = await seeded(t, { guard: () => fencePath });
  await owner.remove(fencePath); // as when the leader's session expired: the check fails at ZooKeeper
  const results = await Promise.allSettled(keys.map((k) => s.put(k, { v: 99 })));
  t.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof NotLeaderError), 'every put refused as not the leader');
  const other = await session(t);
  const values = await Promise.all(keys.map(async (k) => (JSON.parse((await other.getData(s.pathOf(k))).data!.toString()) as { v: number }).v));
  t.ok(values.every((v) => v === 0), 'no value changed');
});

t.test('a znode deleted behind the store: its batch is written put by put, every value lands', async (t) => {
  const s = await seeded(t);
  const other = await session(t);
  await other.remove(s.pathOf(keys[7]!)); // another session deletes one (the store still thinks it exists)
  await Promise.all(keys.map((k) => s.put(k, { v: 5 })));
  const values = await Promise.all(keys.map(async (k) => (JSON.parse((await other.getData(s.pathOf(k))).data!.toString()) as { v: number }).v));
  t.ok(values.every((v) => v === 5), 'every value written, the deleted znode created again');
});
