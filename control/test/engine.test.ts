/** Snapshot engine: diffing, coalescing (FakeClock), deltas vs full snapshots, persistence. */
import t from 'tap';
import { FakeClock } from '../../common/clock.js';
import { canonicalJson, diffPart } from '../delta.js';
import { SnapshotEngine } from '../engine.js';
import { loadControlProto } from '../proto.js';
import type { ZoneRecord } from '../../contracts/index.js';
import { MemoryStore, quietLog, SettableSource, vip } from './helpers.js';

const rec = (name: string, data: string): ZoneRecord => ({ key: `${name}/A/${data}`, name, type: 'A', data });

t.test('diffPart', async (t) => {
  const prev = diffPart(new Map(), [{ key: 'a', v: 1 }, { key: 'b', v: 1 }]).next;
  const rows: { name: string; next: unknown[]; changes: [string, unknown][]; dup?: string[]; invalid?: number[] }[] = [
    { name: 'no change (key order does not matter)', next: [{ v: 1, key: 'a' }, { key: 'b', v: 1 }], changes: [] },
    { name: 'one changed', next: [{ key: 'a', v: 2 }, { key: 'b', v: 1 }], changes: [['a', { key: 'a', v: 2 }]] },
    { name: 'one removed, one added', next: [{ key: 'a', v: 1 }, { key: 'c', v: 1 }], changes: [['c', { key: 'c', v: 1 }], ['b', null]] },
    { name: 'duplicates: last wins', next: [{ key: 'a', v: 1 }, { key: 'b', v: 1 }, { key: 'a', v: 3 }], changes: [['a', { key: 'a', v: 3 }]], dup: ['a'] },
    { name: 'entries without key are dropped', next: [{ key: 'a', v: 1 }, { key: 'b', v: 1 }, { v: 9 }, null], changes: [], invalid: [2, 3] },
  ];
  for (const r of rows) {
    const d = diffPart(prev, r.next);
    t.same([...d.changes].map(([k, c]) => [k, c.v === null ? null : JSON.parse(c.v)]), r.changes, r.name);
    t.same(d.duplicates, r.dup ?? [], `${r.name}: duplicates`);
    t.same(d.invalid, r.invalid ?? [], `${r.name}: invalid`);
  }
  t.equal(canonicalJson({ b: 1, a: { d: 1, c: [2, { f: 1, e: 0 }] } }), '{"a":{"c":[2,{"e":0,"f":1}],"d":1},"b":1}');
});

/** A store whose saves fail while `down` (no ZooKeeper quorum). */
class FlakyStore extends MemoryStore {
  down = false;
  override async save(s: Parameters<MemoryStore['save']>[0]): Promise<void> {
    if (this.down) throw new Error('ZooKeeper quorum unavailable');
    return super.save(s);
  }
}

async function engineWith(t: { teardown(fn: () => unknown): void }, clock: FakeClock, opts = {}) {
  const zones = new SettableSource('zones', [rec('a.x', '1.1.1.1')]);
  const e = new SnapshotEngine({ clock, coalesceMs: 50, history: 'h1', log: quietLog, ...opts });
  e.addSource(zones);
  await e.start();
  t.teardown(() => e.stop());
  clock.advance(0);
  await e.idle();
  return { e, zones };
}

t.test('coalescing: at most one version per interval, first change right away', async (t) => {
  const clock = new FakeClock(0);
  const { e, zones } = await engineWith(t, clock);
  t.equal(e.version, 1, 'initial build');
  const before = zones.calls;
  clock.advance(1000);
  zones.set([rec('a.x', '2.2.2.2')]);
  clock.advance(0);
  await e.idle();
  t.equal(e.version, 2, 'a change after a quiet period is built at once');
  for (let i = 3; i < 13; i++) {
    zones.set([rec('a.x', `3.3.3.${i}`)]);
    clock.advance(4);
    await e.idle();
  }
  t.equal(e.version, 2, 'changes within the interval wait');
  clock.advance(20);
  await e.idle();
  t.equal(e.version, 3, 'one version for the burst');
  t.same(e.entries('zones'), [rec('a.x', '3.3.3.12')], 'with the latest content');
  t.equal(zones.calls - before, 2, 'sources read once per build');
  zones.set([rec('a.x', '3.3.3.12')]);
  clock.advance(100);
  await e.idle();
  t.equal(e.version, 3, 'a change event without a content change makes no version');
  t.same([e.versionTime(2), e.versionTime(3)], [1000, 1050], 'version times from the injected clock');
});

t.test('updates: delta since a known version, full snapshot otherwise', async (t) => {
  const clock = new FakeClock(0);
  const { e, zones } = await engineWith(t, clock, { retain: 3 });
  const proto = loadControlProto();
  for (let i = 2; i <= 6; i++) {
    zones.set([rec('a.x', '1.1.1.1'), rec(`n${i}.x`, `9.9.9.${i}`)]);
    clock.advance(50);
    await e.idle();
  }
  t.equal(e.version, 6);
  const rows: { name: string; history: string; version: number; full: boolean; upserts: number; removes: number }[] = [
    { name: 'current agent: empty delta', history: 'h1', version: 6, full: false, upserts: 0, removes: 0 },
    { name: 'one behind: O(change)', history: 'h1', version: 5, full: false, upserts: 1, removes: 1 },
    { name: 'three behind, merged (keys added and removed since are not sent)', history: 'h1', version: 3, full: false, upserts: 1, removes: 1 },
    { name: 'older than retained: full', history: 'h1', version: 2, full: true, upserts: 2, removes: 0 },
    { name: 'no history: full', history: '', version: 0, full: true, upserts: 2, removes: 0 },
    { name: 'other history: full', history: 'h0', version: 6, full: true, upserts: 2, removes: 0 },
    { name: 'ahead of the master: full', history: 'h1', version: 9, full: true, upserts: 2, removes: 0 },
  ];
  for (const r of rows) {
    const enc = e.updateFor(r.history, r.version, ['zones']);
    const u = proto.decodeUpdate(enc.buf);
    const zonesPart = u.parts.find((p) => p.part === 'zones');
    t.same(
      [u.full, u.version, zonesPart?.upserts.length ?? 0, zonesPart?.removes.length ?? 0],
      [r.full, 6, r.upserts, r.removes],
      r.name,
    );
    t.equal(!!u.overlay, r.full, `${r.name}: overlay config only with full snapshots`);
  }
  t.equal(e.updateFor('h1', 5, ['zones']).buf, e.updateFor('h1', 5, ['zones']).buf, 'encoded once, shared');
  t.same(proto.decodeUpdate(e.updateFor('h1', 5, ['vips']).buf).parts, [], 'parts not subscribed are not sent');
});

t.test('a delta for one changed backend is O(change), not O(cluster)', async (t) => {
  const clock = new FakeClock(0);
  const vips = new SettableSource('vips');
  const e = new SnapshotEngine({ clock, coalesceMs: 0, history: 'h', log: quietLog });
  e.addSource(vips);
  await e.start();
  t.teardown(() => e.stop());
  const cluster = (n: number, extra: number) => Array.from({ length: n }, (_, i) => vip(`app${i}`, `11.0.${i >> 8}.${i & 255}`, [['10.0.0.1', 1000 + i], ...(i === 0 ? [['10.0.0.2', extra] as [string, number]] : [])]));
  const sizes: number[] = [];
  for (const n of [10, 1000]) {
    vips.set(cluster(n, 1));
    clock.advance(0);
    await e.idle();
    const v = e.version;
    vips.set(cluster(n, 2));
    clock.advance(0);
    await e.idle();
    sizes.push(e.updateFor('h', v, ['vips']).buf.length);
  }
  t.ok(Math.abs(sizes[0]! - sizes[1]!) < 16, `delta bytes for 10 and 1000 VIPs: ${sizes.join(' vs ')}`);
});

t.test('persistence: restart continues the history and version', async (t) => {
  const clock = new FakeClock(0);
  const store = new MemoryStore();
  const { e, zones } = await engineWith(t, clock, { store });
  zones.set([rec('b.x', '2.2.2.2')]);
  clock.advance(50);
  await e.idle();
  await e.stop();
  t.same([store.saved?.history, store.saved?.version], ['h1', 2]);
  const e2 = new SnapshotEngine({ clock, coalesceMs: 50, history: 'ignored', store, log: quietLog });
  e2.addSource(new SettableSource('zones', [rec('b.x', '2.2.2.2')]));
  await e2.start();
  t.teardown(() => e2.stop());
  clock.advance(0);
  await e2.idle();
  t.same([e2.history, e2.version], ['h1', 2], 'same content after restart: no new version');
  t.equal(e2.canDelta('h1', 2), true, 'an agent at the persisted version resumes with a delta');
  t.equal(e2.canDelta('h1', 1), false, 'older ones need a full snapshot (no log before restart)');
});

t.test('version continuity: saved before published, a failed save publishes nothing, a successor continues above every version sent', async (t) => {
  const clock = new FakeClock(0);
  const store = new FlakyStore();
  const { e, zones } = await engineWith(t, clock, { store, retryMs: 500 });
  const seen: [number, number | undefined][] = [];
  e.onVersion((v) => seen.push([v, store.saved?.version]));
  zones.set([rec('b.x', '2.2.2.2')]);
  clock.advance(50);
  await e.idle();
  t.same(seen, [[2, 2]], 'version 2 was in the store when it was published');

  store.down = true;
  zones.set([rec('c.x', '3.3.3.3')]);
  clock.advance(50);
  await e.idle();
  t.equal(e.version, 2, 'a version that cannot be saved is not published');
  t.equal(e.updateFor('h1', 0, ['zones']).version, 2, 'an agent connecting now is sent version 2');
  t.same(e.entries('zones').map((z) => z.name), ['b.x'], 'and the content of version 2');
  store.down = false;
  clock.advance(500);
  await e.idle();
  t.equal(e.version, 3, 'published once the retried save succeeds');
  t.same(store.saved?.version, 3);

  // A successor (new leader) restores from the store: it continues at the last version sent, same content.
  await e.stop();
  const e2 = new SnapshotEngine({ clock, coalesceMs: 50, history: 'other', store, log: quietLog });
  const zones2 = new SettableSource('zones', [rec('c.x', '3.3.3.3')]);
  e2.addSource(zones2);
  await e2.start();
  t.teardown(() => e2.stop());
  clock.advance(0);
  await e2.idle();
  t.same([e2.history, e2.version], ['h1', 3], 'the successor resumes the history at the highest version any agent saw');
  t.equal(e2.canDelta('h1', 3), true, 'an agent at that version resumes with a delta');
  zones2.set([rec('d.x', '4.4.4.4')]);
  clock.advance(50);
  await e2.idle();
  t.equal(e2.version, 4, 'and its next version is above it');
  const u = loadControlProto().decodeUpdate(e2.updateFor('h1', 3, ['zones']).buf);
  t.same([u.version, u.full, u.from_version], [4, false, 3], 'the agent at 3 gets a delta 3 -> 4');
});

t.test('a failing source keeps its part; a second source for a part is refused', async (t) => {
  const clock = new FakeClock(0);
  const { e, zones } = await engineWith(t, clock);
  (zones as unknown as { entries: () => never }).entries = () => {
    throw new Error('state unavailable');
  };
  zones.set([]);
  clock.advance(50);
  await e.idle();
  t.same([e.version, e.entries('zones').length], [1, 1], 'part kept, no version');
  t.throws(() => e.addSource(new SettableSource('zones')), { name: 'ConflictError' });
});

t.test('settle(): the version carrying the sources as of the call, not one a rebuild already under way publishes', async (t) => {
  const clock = new FakeClock(0);
  const store = new FlakyStore();
  const { e, zones } = await engineWith(t, clock, { store, retryMs: 500 });
  const track = (p: Promise<number | undefined>) => {
    const r: { done: boolean; v?: number } = { done: false };
    void p.then((v) => Object.assign(r, { done: true, v }));
    return r;
  };
  const settleNow = async (p: Promise<number | undefined>) => {
    const r = track(p);
    clock.advance(50);
    await e.idle();
    return r;
  };

  zones.set([rec('b.x', '2.2.2.2')]);
  const changed = await settleNow(e.settle());
  t.same(changed, { done: true, v: 2 }, 'a change: the version that published it');
  const same = await settleNow(e.settle());
  t.same(same, { done: true, v: 2 }, 'nothing changed: the current version');
  t.equal(e.version, 2, 'and no new version');

  // A rebuild reads the source, then waits; the source changes meanwhile and settle() is called.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let list = [rec('c.x', '3.3.3.3')];
  const read = zones.entries.bind(zones);
  (zones as unknown as { entries: () => Promise<ZoneRecord[]> }).entries = async () => {
    const seen = (read(), list);
    await gate;
    return seen;
  };
  clock.advance(1000);
  zones.set(list);
  await Promise.resolve();
  list = [rec('d.x', '4.4.4.4')];
  const during = track(e.settle());
  release();
  await e.idle();
  t.equal(e.version, 3, 'the rebuild under way published version 3 (c.x only)');
  t.equal(during.done, false, 'which does not answer a settle() made after it read its source');
  clock.advance(50);
  await e.idle();
  await Promise.resolve();
  t.same(during, { done: true, v: 4 }, 'the next rebuild does: version 4');
  t.same(e.entries('zones').map((z) => z.name), ['d.x'], 'carrying what the source said at the call');

  store.down = true;
  list = [rec('e.x', '5.5.5.5')];
  const unsaved = await settleNow(e.settle());
  t.same([unsaved.done, e.version], [false, 4], 'a rebuild whose save failed answers nothing');
  store.down = false;
  clock.advance(500);
  await e.idle();
  await Promise.resolve();
  t.same(unsaved, { done: true, v: 5 }, 'the retry that publishes does');

  const pending = track(e.settle());
  await e.stop();
  await Promise.resolve();
  t.same(pending, { done: true, v: undefined }, 'stopping answers a pending settle() with undefined');
  t.equal(await e.settle(), undefined, 'as does a stopped engine');
});
