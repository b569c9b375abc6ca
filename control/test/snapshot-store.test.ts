/**
 * The control snapshot on the master's store in chunks (snapshot-store.ts), on a store that refuses
 * values over 1,000,000 bytes as the ZooKeeper store does: a snapshot of several MB (10,000 tasks)
 * saves and loads back equal; the previous version's chunks are deleted; chunks of a save killed
 * before its head are ignored and removed at the next load; a plain snapshot written before
 * chunking loads as it is. (bench/ha runs it on a real ensemble with 10,000 tasks.)
 */
import t from 'tap';
import type { KvStore } from '../../contracts/index.js';
import type { PersistedSnapshot } from '../engine.js';
import { chunkedSnapshotStore } from '../snapshot-store.js';

class LimitedStore implements KvStore {
  readonly m = new Map<string, string>();
  largest = 0;
  async get<T>(k: string): Promise<T | undefined> {
    const v = this.m.get(k);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }
  async put(k: string, v: unknown): Promise<void> {
    const text = JSON.stringify(v);
    if (Buffer.byteLength(text) > 1_000_000) throw new Error(`value for ${k} is ${Buffer.byteLength(text)} bytes, over 1,000,000`);
    this.largest = Math.max(this.largest, Buffer.byteLength(text));
    this.m.set(k, text);
  }
  async delete(k: string): Promise<void> {
    this.m.delete(k);
  }
  async list<T>(prefix: string): Promise<[string, T][]> {
    return [...this.m].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, JSON.parse(v) as T]);
  }
}

/** A snapshot with `n` backends in one part (about 100 bytes each) and non-ASCII text. */
function snapshot(version: number, n: number): PersistedSnapshot {
  const backends = Array.from({ length: n }, (_, i) => ({ ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 31000 + (i % 1000), task: `app${i % 100}.group_é.${i}` }));
  return { history: 'h1', version, overlay: {} as PersistedSnapshot['overlay'], parts: { vips: [{ vip: '11.0.0.1:80', backends }] } as unknown as PersistedSnapshot['parts'] };
}

const chunkKeys = (s: LimitedStore) => [...s.m.keys()].filter((k) => k.startsWith('control/snapshot-chunks/'));

t.test('a snapshot of several MB saves in chunks under the value limit and loads back equal', async (t) => {
  const s = new LimitedStore();
  const st = chunkedSnapshotStore(s);
  const big = snapshot(7, 50_000);
  t.ok(Buffer.byteLength(JSON.stringify(big)) > 3_000_000, 'over 3 MB of JSON');
  await st.save(big);
  t.ok(s.largest <= 1_000_000, `largest value ${s.largest} bytes`);
  t.ok(chunkKeys(s).length >= 4, `${chunkKeys(s).length} chunks`);
  t.same(await chunkedSnapshotStore(s).load(), big, 'a new master loads the same snapshot');

  const next = snapshot(8, 20_000);
  await st.save(next);
  t.same(await chunkedSnapshotStore(s).load(), next, 'the next version replaces it');
  t.ok(chunkKeys(s).every((k) => k.startsWith('control/snapshot-chunks/8-')), 'the previous version\'s chunks are deleted');
});

t.test('chunks of a save that never wrote its head are ignored, then removed at load', async (t) => {
  const s = new LimitedStore();
  const st = chunkedSnapshotStore(s);
  const v1 = snapshot(1, 1000);
  await st.save(v1);
  await s.put('control/snapshot-chunks/2-deadbeef/0', Buffer.from('{"partial":').toString('base64'));
  t.same(await chunkedSnapshotStore(s).load(), v1, 'the head still names version 1');
  t.notOk(s.m.has('control/snapshot-chunks/2-deadbeef/0'), 'the orphan chunk is gone');
});

t.test('a plain snapshot (written before chunking) loads as it is; a missing chunk is an error naming it', async (t) => {
  const s = new LimitedStore();
  const plain = snapshot(3, 10);
  await s.put('control/snapshot', plain);
  t.same(await chunkedSnapshotStore(s).load(), plain);
  t.equal(await chunkedSnapshotStore(new LimitedStore()).load(), undefined, 'nothing stored: undefined');

  const st = chunkedSnapshotStore(s);
  await st.save(snapshot(4, 20_000));
  const [first] = chunkKeys(s);
  s.m.delete(first!);
  await t.rejects(chunkedSnapshotStore(s).load(), /chunks of 4-/, 'a head whose chunks are missing is refused, naming them');
});
