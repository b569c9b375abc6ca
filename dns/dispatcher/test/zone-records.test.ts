/**
 * The held zone records (zone-records.ts): the parse of a record object is reused while its fields
 * are those it was parsed from, an object the list has several times is followed position by
 * position (each change a delta, not a rebuild), and one no longer held is parsed afresh.
 */
import t from 'tap';
import type { ZoneRecord } from '../../../contracts/index.js';
import { HeldRecords } from '../zone-records.js';

const rec = (name: string, data: string): ZoneRecord => ({ key: `${name}/A/${data}`, name, type: 'A', data });

function set(h: HeldRecords, records: ZoneRecord[]): ReturnType<HeldRecords['diff']> {
  const d = h.diff(records);
  if (d) h.commit(records, d);
  else h.commitAll(records, h.parseAll(records));
  return d;
}

t.test('an object held three times: removing its positions one by one is a delta each time, and its parse is kept', async (t) => {
  const h = new HeldRecords();
  const a = rec('a.marathon.l4lb.thisdcos.directory', '11.0.0.1');
  const b = rec('b.marathon.l4lb.thisdcos.directory', '11.0.0.2');
  set(h, [a, b, a, a]);
  const rr = h.parse(a);
  t.equal(h.parse(a), rr, 'a held object: its parse, the same object');
  t.equal(h.counts.get('thisdcos.directory'), 4, 'four records');
  let d = set(h, [a, b, a]);
  t.same(d?.delta.removed, [3], 'one position less: a delta');
  t.equal(h.parse(a), rr, 'still held: the same parse');
  d = set(h, [b, a]);
  t.ok(d, 'another position less: a delta');
  t.equal(h.parse(a), rr, 'still held');
  d = set(h, [b]);
  t.same(d?.delta.removed, [1], 'the last position gone: a delta');
  t.not(h.parse(a), rr, 'no longer held: parsed afresh');
  t.equal(h.counts.get('thisdcos.directory'), 1, 'one record left');
  d = set(h, [b, a]);
  t.same(d?.delta.added.map(([i]) => i), [1], 'added back: a delta');
});

t.test('a held object changed in place is parsed again, at every position', async (t) => {
  const h = new HeldRecords();
  const a = rec('a.marathon.l4lb.thisdcos.directory', '11.0.0.1');
  set(h, [a, a]);
  const before = h.parse(a);
  a.data = '11.0.0.9';
  const d = set(h, [a, a]);
  t.same(d?.delta.removed, [0, 1], 'both positions removed');
  t.same(d?.fresh.map((rr) => (rr as { address: string }).address), ['11.0.0.9', '11.0.0.9'], 'and added with the new data');
  t.equal(d?.fresh[0], d?.fresh[1], 'one parse for both');
  t.not(h.parse(a), before, 'the held parse is the new one');
  t.same(set(h, [a, a])?.delta, { removed: [], added: [], size: 2 }, 'set again unchanged: no change');
});
