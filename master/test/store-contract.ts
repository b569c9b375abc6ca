/**
 * The KvStore contract, one suite run against every store (memory, file, ZooKeeper): values are
 * JSON copies, `list(prefix)` is prefix-filtered and sorted by key, delete is idempotent, any
 * string is a key (a key may also be the prefix of others), writes to one key land in call order.
 */
import type { Test } from 'tap';
import type { KvStore } from '../../contracts/index.js';

export type MakeStore = (t: Test) => Promise<KvStore>;

/** Keys a naive key -> path mapping would get wrong (ZooKeeper forbids `.`, `..`, control characters). */
export const AWKWARD_KEYS = ['.', '..', 'a/./b', 'a/../b', 'a//b', 'trail/', '/lead', 'sp ace', 'pct%2F', 'uni/ñ/日本', 'ctl\u0001\u007f', 'zookeeper', 'q?x#y&z=1'];

export function storeContract(t: Test, name: string, make: MakeStore): void {
  t.test(`KvStore contract: ${name}`, async (t) => {
    const s = await make(t);
    t.equal(await s.get('nope'), undefined);
    await s.put('master/apps/b', { v: 2 });
    await s.put('master/apps/a', { v: 1 });
    await s.put('master/apps/a/x.y', { v: 3 });
    await s.put('other', 'text');
    t.same(await s.get('master/apps/a'), { v: 1 });
    t.same((await s.list('master/apps/')).map(([k]) => k), ['master/apps/a', 'master/apps/a/x.y', 'master/apps/b'], 'list is sorted and prefix-filtered');
    await s.put('master/apps/a', { v: 9 });
    t.same(await s.get('master/apps/a'), { v: 9 }, 'overwrite');
    const got = (await s.get<{ v: number }>('master/apps/a'))!;
    got.v = 100;
    t.same(await s.get('master/apps/a'), { v: 9 }, 'values are copies');
    await s.delete('master/apps/a');
    await s.delete('master/apps/a');
    t.equal(await s.get('master/apps/a'), undefined, 'delete (twice is fine)');
    t.same(await s.get('master/apps/a/x.y'), { v: 3 }, 'deleting a key leaves the keys below it');
    t.same((await s.list('master/apps/')).map(([k]) => k), ['master/apps/a/x.y', 'master/apps/b'], 'a deleted key is not listed');
  });

  t.test(`KvStore contract: ${name}: prefixes that are not whole segments, values of every JSON type`, async (t) => {
    const s = await make(t);
    const vals: [string, unknown][] = [['p/ab', 1], ['p/abc/d', [1, 'x']], ['p/b', null], ['p/a', true], ['pq', { n: { m: [] } }], ['p/ac', '']];
    for (const [k, v] of vals) await s.put(k, v);
    t.same(await s.list('p/a'), [['p/a', true], ['p/ab', 1], ['p/abc/d', [1, 'x']], ['p/ac', '']]);
    t.same((await s.list('p')).map(([k]) => k), ['p/a', 'p/ab', 'p/abc/d', 'p/ac', 'p/b', 'pq']);
    t.same((await s.list('')).map(([k]) => k), ['p/a', 'p/ab', 'p/abc/d', 'p/ac', 'p/b', 'pq'], 'empty prefix lists all');
    t.same(await s.list('zz/'), [], 'no match');
    t.equal(await s.get('p/b'), null, 'null is a value');
    t.equal(await s.get('p/ac'), '', 'empty string is a value');
    await t.rejects(s.put('p/u', undefined), TypeError, 'undefined is not JSON');
  });

  t.test(`KvStore contract: ${name}: awkward keys round-trip and stay distinct`, async (t) => {
    const s = await make(t);
    for (const [i, k] of AWKWARD_KEYS.entries()) await s.put(k, { i });
    for (const [i, k] of AWKWARD_KEYS.entries()) t.same(await s.get(k), { i }, JSON.stringify(k));
    t.same((await s.list('')).map(([k]) => k), [...AWKWARD_KEYS].sort(), 'listed exactly once each, sorted');
    for (const k of AWKWARD_KEYS) await s.delete(k);
    t.same(await s.list(''), [], 'all gone');
  });

  t.test(`KvStore contract: ${name}: writes to one key land in call order`, async (t) => {
    const s = await make(t);
    await Promise.all(Array.from({ length: 50 }, (_, i) => s.put('seq', i)));
    t.equal(await s.get('seq'), 49);
    await Promise.all([s.put('gone', 1), s.delete('gone')]);
    t.equal(await s.get('gone'), undefined, 'put then delete: deleted');
  });
}
