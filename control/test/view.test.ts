/**
 * The agent's held view (control/view.ts, control/sorted-part.ts): entries stay sorted by key through
 * any mix of updates (checked against a plain sort after each one, on both the incremental and the
 * re-sort path), an unchanged part is the same array in the next snapshot and a handed-out array is
 * never changed afterwards, and a one-key update at 10,000 entries sorts nothing.
 */
import t from 'tap';
import type { WireUpdate } from '../proto.js';
import { HeldView } from '../view.js';
import { SortedPart } from '../sorted-part.js';

type Entry = { key: string; v: number };
const entryText = (key: string, v: number) => JSON.stringify({ key, v });

function update(version: number, from: number, parts: WireUpdate['parts'], full = false): WireUpdate {
  return { history: 'h', version, from_version: from, full, parts, overlay: '' };
}

/** A small deterministic generator (the test must reproduce). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

t.test('entries stay sorted by key through random updates, small and large', async (t) => {
  const rand = rng(26);
  const part = new SortedPart();
  const model = new Map<string, unknown>();
  // Keys of mixed shapes and lengths, so code-unit order matters ('b' < 'b/1' < 'b0', 'Z' < 'a').
  const keyOf = (i: number) => ['tcp/11.0.', 'udp/11.0.', 'Z', 'a', 'b/', 'b0'][i % 6]! + (i * 7919) % 1000;
  for (let round = 0; round < 300; round++) {
    const big = round % 25 === 0; // a big one takes the re-sort path
    const n = big ? 200 + Math.floor(rand() * 400) : Math.floor(rand() * 6);
    const removes: string[] = [];
    const upserts: { key: string; entry: unknown }[] = [];
    for (let i = 0; i < n; i++) {
      const key = keyOf(Math.floor(rand() * 3000));
      if (rand() < 0.4) removes.push(key);
      else upserts.push({ key, entry: { key, round, i } });
    }
    if (rand() < 0.1) removes.push('never-held');
    const changed = part.update(removes, upserts);
    let expectChanged = upserts.length > 0;
    for (const k of removes) expectChanged = model.delete(k) || expectChanged;
    for (const u of upserts) model.set(u.key, u.entry);
    if (changed !== expectChanged) t.fail(`round ${round}: changed ${changed}, expected ${expectChanged}`);
    const want = [...model.keys()].sort().map((k) => model.get(k));
    const got = part.entries();
    if (got.length !== want.length || got.some((e, i) => e !== want[i])) {
      t.same(got, want, `round ${round}: entries in key order`);
      return;
    }
  }
  t.equal(part.size, model.size, 'every round matched a plain sort of the keys');
});

t.test('an unchanged part is the same array; a handed-out array never changes', async (t) => {
  const v = new HeldView();
  v.apply(update(1, 0, [{ part: 'vips', upserts: [entryText('b', 1), entryText('a', 1)], removes: [] }, { part: 'zones', upserts: [entryText('z', 1)], removes: [] }], true));
  const s1 = v.snapshot();
  t.same(s1.parts.vips, [{ key: 'a', v: 1 }, { key: 'b', v: 1 }], 'sorted by key');
  const s1vips = [...s1.parts.vips];
  v.apply(update(2, 1, [{ part: 'zones', upserts: [entryText('y', 2)], removes: ['z'] }]));
  const s2 = v.snapshot();
  t.equal(s2.parts.vips, s1.parts.vips, 'vips did not change: the same array');
  t.not(s2.parts.zones, s1.parts.zones, 'zones changed: a new array');
  t.same(s1.parts.zones, [{ key: 'z', v: 1 }], 'the earlier zones array is as it was handed out');
  t.equal(v.snapshot().parts.zones, s2.parts.zones, 'no update between two snapshots: the same arrays');
  v.apply(update(3, 2, [{ part: 'vips', upserts: [entryText('c', 3), entryText('a', 3)], removes: ['b'] }]));
  const s3 = v.snapshot();
  t.same(s3.parts.vips, [{ key: 'a', v: 3 }, { key: 'c', v: 3 }], 'a delta: replaced, added and removed in place');
  t.same(s1.parts.vips, s1vips, 'the first snapshot still holds what it held');
  t.equal(s3.parts.zones, s2.parts.zones, 'zones untouched by a vips delta');
  v.apply(update(4, 3, [{ part: 'vips', upserts: [], removes: ['nope'] }]));
  t.equal(v.snapshot().parts.vips, s3.parts.vips, 'removing a key not held changes nothing');
  v.apply(update(5, 0, [{ part: 'vips', upserts: [entryText('a', 5)], removes: [] }], true));
  const s5 = v.snapshot();
  t.same([s5.parts.vips, s5.parts.zones], [[{ key: 'a', v: 5 }], []], 'a full update replaces every part');
  t.same(s3.parts.vips, [{ key: 'a', v: 3 }, { key: 'c', v: 3 }], 'and leaves earlier snapshots alone');
});

t.test('a one-key update at 10,000 entries sorts nothing (cost of what changed)', async (t) => {
  const v = new HeldView();
  const keys = Array.from({ length: 10_000 }, (_, i) => `tcp/11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`);
  v.apply(update(1, 0, [{ part: 'vips', upserts: keys.map((k) => entryText(k, 0)), removes: [] }], true));
  const first = v.snapshot().parts.vips as unknown as Entry[];
  t.equal(first.length, 10_000);
  t.ok(first.every((e, i) => i === 0 || first[i - 1]!.key < e.key), 'the full snapshot is sorted');
  const realSort = Array.prototype.sort;
  let sorts = 0;
  Array.prototype.sort = function (this: unknown[], ...args: [((a: unknown, b: unknown) => number)?]) {
    sorts++;
    return realSort.apply(this, args);
  } as typeof realSort;
  try {
    let version = 1;
    const one = (upserts: string[], removes: string[]) => {
      v.apply(update(version + 1, version, [{ part: 'vips', upserts, removes }]));
      version++;
      return v.snapshot().parts.vips as unknown as Entry[];
    };
    const added = one([entryText('tcp/11.0.0.0:81', 1)], []);
    const changed = one([entryText(keys[5000]!, 2)], []);
    const removed = one([], [keys[42]!]);
    t.equal(sorts, 0, 'no sort for an add, a change and a removal');
    t.equal(added.length, 10_001);
    t.same(added[1], { key: 'tcp/11.0.0.0:81', v: 1 }, 'the new key in its place');
    t.same(changed.find((e) => e.key === keys[5000]), { key: keys[5000], v: 2 }, 'the changed entry replaced');
    t.equal(removed.length, 10_000);
    t.notOk(removed.some((e) => e.key === keys[42]), 'the removed key is gone');
  } finally {
    Array.prototype.sort = realSort;
  }
});
