/**
 * The planning walk of one apply (l4lb/nft/plan.ts) and the reconciler's Service reuse
 * (l4lb/services.ts): an unchanged service passed again as the same object is recognised by
 * identity, without reading its fields, so a change among many services costs what changed; a
 * changed service's element diff, computed on bytes, is the minimal one.
 */
import t from 'tap';
import type { Vip } from '../../../contracts/index.js';
import type { Service } from '../../driver.js';
import { normalize, normalizeOne, servicesFromVips } from '../../services.js';
import { canonicalServices, emptyPlan, planChange, planSorted } from '../plan.js';
import { serviceElements } from '../ruleset.js';

const services = (n: number): Service[] =>
  normalize(
    Array.from({ length: n }, (_, i) => ({
      key: '',
      vip: `11.0.${i >> 8}.${i & 255}`,
      port: 80,
      protocol: 'tcp' as const,
      backends: [1, 2].map((b) => ({ ip: `10.${b}.${i >> 8}.${i & 255}`, port: 8080, weight: 1 })),
    })),
  );

/** `s` whose backends can no longer be read (counting the attempts). */
function sealed(s: Service, reads: { n: number }): Service {
  const backends = s.backends;
  let open = true;
  Object.defineProperty(s, 'backends', {
    get() {
      if (!open) reads.n++;
      return backends;
    },
  });
  return Object.assign(s, { seal: () => (open = false) });
}

t.test('the same objects again: nothing read, nothing planned, the written list kept', async (t) => {
  const reads = { n: 0 };
  const have = services(500).map((s) => sealed(s, reads));
  for (const s of have) (s as unknown as { seal(): void }).seal();
  const p = planSorted(have, [...have], 64)!;
  t.ok(p, 'planned by the walk');
  t.equal(reads.n, 0, 'no backends compared');
  t.equal(p.changes.size, 0, 'no change');
  t.equal(p.delta.ops, 0, 'no element');
  t.equal(p.next, have, 'the written list is kept as it is (no copy)');
});

t.test('one change among many: only it is planned, the others stay the same objects', async (t) => {
  const have = services(500);
  const desired = have.map((s, i) => (i === 250 ? { ...s, backends: s.backends.map((b, k) => (k === 0 ? { ...b, weight: 0 } : b)) } : s));
  const p = planSorted(have, desired, 64)!;
  t.same([p.result.added, p.result.removed, p.result.changed], [0, 0, 1]);
  t.same([...p.changes.keys()], [have[250]!.key]);
  t.equal(p.next!.length, 500);
  t.ok(
    p.next!.every((s, i) => (i === 250 ? s === desired[250] : s === have[i])),
    'next: the new service at its place, every other the written object',
  );
  const added = { ...have[0]!, key: 'tcp/11.0.0.0:81', port: 81 };
  const withAdd = [have[0]!, added, ...have.slice(1)];
  const q = planSorted(have, withAdd, 64)!;
  t.same([q.result.added, q.result.removed, q.result.changed], [1, 0, 0]);
  t.equal(q.next![1], added);
  const r = planSorted(have, have.slice(0, 499), 64)!;
  t.same([r.result.added, r.result.removed, r.result.changed], [0, 1, 0]);
  t.equal(r.next!.length, 499);
});

t.test('equal copies (after a reconcile) are adopted, so the next apply compares by identity', async (t) => {
  const have = services(50);
  const copies = have.map((s) => ({ ...s, backends: s.backends.map((b) => ({ ...b })) }));
  const p = planSorted(have, copies, 64)!;
  t.equal(p.changes.size, 0, 'no change');
  t.ok(
    p.next!.every((s, i) => s === copies[i]),
    'the caller objects are kept',
  );
  t.equal(canonicalServices(copies)[3], copies[3], 'canonical services are not copied');
  t.not(canonicalServices([{ ...copies[3]!, key: 'x' }])[0], copies[3], 'a service with a miswritten key is normalized');
});

t.test('servicesFromVips reuses the Service of a VIP object it has seen', async (t) => {
  const vip = (i: number, w = 1): Vip => ({ key: `tcp/11.0.0.${i}:80`, ip: `11.0.0.${i}`, port: 80, protocol: 'tcp', backends: [{ ip: '10.0.0.1', port: 8080, weight: w }] as Vip['backends'] });
  const reuse = new WeakMap<Vip, Service>();
  const vips = [vip(1), vip(2), vip(3)];
  const a = servicesFromVips(vips, reuse);
  const changed = vip(2, 0);
  const b = servicesFromVips([vips[0]!, changed, vips[2]!], reuse);
  t.equal(b[0], a[0], 'unchanged VIP: the same Service');
  t.equal(b[2], a[2], 'unchanged VIP: the same Service');
  t.not(b[1], a[1], 'a new VIP object: a new Service');
  t.equal(b[1]!.backends[0]!.weight, 0);
  const unsorted = servicesFromVips([vips[2]!, vips[0]!], reuse);
  t.same(
    unsorted.map((s) => s.key),
    ['tcp/11.0.0.1:80', 'tcp/11.0.0.3:80'],
    'sorted by key',
  );
  t.same(servicesFromVips([vip(4, 1), { ...vip(5), backends: [] }]).map((s) => s.key), ['tcp/11.0.0.4:80'], 'no reuse map; a VIP without backends is left out');
});

t.test('a changed service: its element diff, computed on bytes, is the minimal one', async (t) => {
  const base = (vip: string, backends: [string, number][]): Service =>
    normalizeOne({ key: '', vip, port: 80, protocol: 'tcp', backends: backends.map(([ip, weight]) => ({ ip, port: 8080, weight })) });
  const v6 = (w: number) => base('fd01:c::10', [['fd01:b::1', 1], ['fd01:b::2', w]]);
  const pairs: [string, Service, Service][] = [
    ['a backend drained', base('11.0.0.1', [['10.0.0.1', 1], ['10.0.0.2', 1], ['10.0.0.3', 1]]), base('11.0.0.1', [['10.0.0.1', 1], ['10.0.0.2', 0], ['10.0.0.3', 1]])],
    ['a weight raised', base('11.0.0.1', [['10.0.0.1', 1], ['10.0.0.2', 1]]), base('11.0.0.1', [['10.0.0.1', 1], ['10.0.0.2', 3]])],
    ['weights scaled down (over 64 slots)', base('11.0.0.1', [['10.0.0.1', 1]]), base('11.0.0.1', [['10.0.0.1', 50], ['10.0.0.2', 50]])],
    ['a backend replaced', base('11.0.0.1', [['10.0.0.1', 1], ['10.0.0.2', 1]]), base('11.0.0.1', [['10.0.0.1', 1], ['10.0.0.9', 1]])],
    ['all drained (reject)', base('11.0.0.1', [['10.0.0.1', 1]]), base('11.0.0.1', [['10.0.0.1', 0]])],
    ['IPv6', v6(1), v6(0)],
  ];
  for (const [name, old, s] of pairs) {
    const p = emptyPlan();
    planChange(p, old, s, 64);
    const got = { del: [] as string[], add: [] as string[] };
    p.delta.each((verb, set, keys, values) => keys.forEach((k, i) => (verb === 'add' ? got.add : got.del).push(`${set}|${k}${verb === 'add' && values?.[i] ? ` : ${values[i]}` : ''}`)));
    const before = new Map(serviceElements(old, 64).map(([set, k, v]) => [`${set}|${k}`, v]));
    const after = new Map(serviceElements(s, 64).map(([set, k, v]) => [`${set}|${k}`, v]));
    const want = {
      del: [...before].filter(([k, v]) => after.get(k) !== v).map(([k]) => k),
      add: [...after].filter(([k, v]) => before.get(k) !== v).map(([k, v]) => (v ? `${k} : ${v}` : k)),
    };
    t.same(got.del.sort(), want.del.sort(), `${name}: deletes`);
    t.same(got.add.sort(), want.add.sort(), `${name}: adds`);
    t.equal(p.delta.ops, want.del.length + want.add.length, `${name}: element count`);
  }
});

t.test('servicesFromVips with the services it returned last: a VIP object seen then gets its Service back, found in key order', async (t) => {
  const vip = (i: number, w = 1): Vip => ({ key: `tcp/11.0.0.${i}:80`, ip: `11.0.0.${i}`, port: 80, protocol: 'tcp', backends: [{ ip: '10.0.0.1', port: 8080, weight: w }] as Vip['backends'] });
  const vips = [vip(1), vip(2), vip(3), vip(4)];
  const a = servicesFromVips(vips, []);
  t.equal(a[0]!.backends, vips[0]!.backends, 'a canonical VIP lends its backend list');
  const changed = vip(2, 0);
  const added = vip(5);
  const b = servicesFromVips([vips[0]!, changed, vips[3]!, added], a);
  t.equal(b[0], a[0], 'unchanged VIP: the same Service');
  t.equal(b[2], a[3], 'unchanged VIP after a removed one: the same Service');
  t.not(b[1], a[1], 'a new VIP object under a key seen before: a new Service');
  t.equal(b[1]!.backends[0]!.weight, 0, 'built from the new VIP');
  t.same(b.map((s) => s.key), ['tcp/11.0.0.1:80', 'tcp/11.0.0.2:80', 'tcp/11.0.0.4:80', 'tcp/11.0.0.5:80'], 'the removed VIP is gone, the added one there');
  const copy = { ...vips[0]!, backends: [...vips[0]!.backends] };
  t.not(servicesFromVips([copy], b)[0], b[0], 'an equal VIP object with its own backend list: a new Service');
  t.equal(servicesFromVips([copy], b)[0]!.backends, copy.backends, 'holding its list');
  const odd: Vip = { ...vip(6), backends: [{ ip: '10.0.0.2', port: 1, weight: 1 }, { ip: '10.0.0.1', port: 2, weight: 1 }] as Vip['backends'] };
  const c = servicesFromVips([odd], []);
  t.same(c[0]!.backends.map((x) => x.ip), ['10.0.0.1', '10.0.0.2'], 'a VIP not in canonical form is normalized');
  t.not(servicesFromVips([odd], c)[0], c[0], 'and gets a new (equal) Service next time');
  const unsorted = servicesFromVips([vips[3]!, vips[0]!], a);
  t.same(unsorted.map((s) => s.key), ['tcp/11.0.0.1:80', 'tcp/11.0.0.4:80'], 'VIPs out of order: sorted by key');
  t.equal(unsorted[1], a[3], 'the first one walked still found');
});
